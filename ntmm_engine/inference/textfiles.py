"""Reading the texts to classify from a CSV/TSV/TXT/JSON/JSONL file, streamed row by row.

The text column is the one named, else the one the model was trained on (if
the file has it), else the one the training-data detector picks
(:func:`~ntmm_engine.data.columns.find_text_column`).
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
from pathlib import Path
from typing import Any, Iterator

from ..core.errors import DataError
from ..data.columns import find_text_column

# ---------------------------------------------------------------- command line


DETECT_ROWS = 200  # rows read ahead to find the text column of a CSV/JSONL file


def _allow_long_fields() -> None:
    # The csv module refuses fields over 128 KiB by default; clinical notes can be longer.
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:  # C long is 32-bit on Windows
            limit //= 2


def read_texts_file(path: str | Path, column: str | None = None, *, prefer: str | None = None) -> list[str]:
    """Texts from a CSV/TSV (text column named, else ``prefer`` if present, else detected), TXT (one per
    line), JSON or JSONL file."""
    return list(iter_texts_file(path, column, prefer=prefer))


def texts_file_columns(path: str | Path, *, prefer: str | None = None) -> tuple[list[str], str | None]:
    """Columns of a CSV/TSV/JSON/JSONL file of records, and the one :func:`read_texts_file` picks
    when none is named; ``([], None)`` for TXT files and lists of plain strings."""
    p = Path(path).expanduser()
    iter_texts_file(p)  # same checks (exists, known type) and errors
    try:
        rows = [r for r in itertools.islice(_records(p, p.suffix.lower()), DETECT_ROWS) if isinstance(r, dict)]
    except (UnicodeDecodeError, csv.Error, ValueError):
        return [], None  # reading the texts reports the problem with its line
    if not rows:
        return [], None
    cols = [str(c) for c in dict.fromkeys(k for r in rows for k in r if k is not None)]
    try:
        return cols, _text_column(rows, None, p, prefer)
    except DataError:
        return cols, None  # no column holds text: the user picks one


def _records(p: Path, suffix: str) -> Iterator[Any]:
    """Rows of a CSV/TSV (dicts) or JSONL/JSON file (dicts or strings), streamed where the format allows;
    nothing for other files."""
    if suffix in (".csv", ".tsv"):
        _allow_long_fields()
        with open(p, newline="", encoding="utf-8-sig") as fh:
            yield from csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
    elif suffix in (".jsonl", ".ndjson"):
        with open(p, encoding="utf-8") as fh:
            yield from (_json_line(n, line, p) for n, line in enumerate(fh, 1) if line.strip())
    elif suffix == ".json":
        data = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise DataError(f"{p}: expected a JSON list of texts or of objects.")
        yield from data


def iter_texts_file(path: str | Path, column: str | None = None, *, prefer: str | None = None) -> Iterator[str]:
    """Stream the non-blank texts of a file (see :func:`read_texts_file`); CSV, TSV, TXT and JSONL are
    read row by row, so memory does not grow with the file. (A ``.json`` list is read whole.)

    A missing file or an unknown type raises :class:`DataError` at once;
    problems inside the file (encoding, unknown column, a bad JSON line) when
    reading reaches them, naming the line or row where it can.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"File not found: {p}")
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".txt", ".text", ""):
        raise DataError(f"{p}: unsupported file type '{suffix}'.", hint="use .csv, .tsv, .txt (one text a line), .json or .jsonl")
    return _iter_texts(p, suffix, column, prefer)


def _iter_texts(p: Path, suffix: str, column: str | None, prefer: str | None) -> Iterator[str]:
    where = "the start"
    try:
        if suffix in (".csv", ".tsv", ".jsonl", ".ndjson"):
            rows = _records(p, suffix)
            head = list(itertools.islice(rows, DETECT_ROWS))
            col = None if head and all(isinstance(r, str) for r in head) else _text_column(head, column, p, prefer)
            for n, r in enumerate(itertools.chain(head, rows), 2):
                where = f"row {n}"
                t = r.strip() if isinstance(r, str) else _row_text(r, col)
                if t:
                    yield t
            return
        if suffix == ".json":
            yield from _texts_from_rows(list(_records(p, suffix)), column, p, prefer)
            return
        with open(p, encoding="utf-8") as fh:  # .txt: one text a line
            for n, line in enumerate(fh, 1):
                where = f"line {n}"
                if line.strip():
                    yield line.strip()
    except UnicodeDecodeError as exc:
        raise DataError(f"{p} is not UTF-8 text ({_first_bad_line(p) or where}: {exc.reason}).",
                        hint="re-save the file as UTF-8") from None
    except csv.Error as exc:
        raise DataError(f"{p}, {where}: cannot be read as {suffix[1:].upper()} ({exc}).") from None
    except DataError:
        raise
    except ValueError as exc:
        raise DataError(f"{p} cannot be read: {exc}") from None


def _first_bad_line(p: Path) -> str:
    """'line N' of the first line that is not UTF-8 (only called after a decode error)."""
    with open(p, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return f"line {n}"
    return ""


def _json_line(n: int, line: str, p: Path) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:
        raise DataError(f"{p}, line {n}: not valid JSON ({exc}).") from None


def _row_text(row: Any, column: str) -> str:
    if not isinstance(row, dict):
        return ""
    v = row.get(column)
    return "" if v is None else str(v).strip()


def _text_column(rows: list, column: str | None, p: Path, prefer: str | None = None) -> str:
    """``column`` if given (it must exist), else ``prefer`` (the column the model was trained on) if the file
    has it, else the detector training uses."""
    dict_rows = [r for r in rows if isinstance(r, dict)]
    if not dict_rows:
        raise DataError(f"{p} holds no rows of texts.")
    cols = list(dict.fromkeys(k for r in dict_rows for k in r if k is not None))
    if column:
        if column not in cols:
            raise DataError(f"{p}: column '{column}' not found (columns: {', '.join(map(str, cols))}).")
        return column
    if prefer and prefer in cols:
        return prefer
    values = {c: [r.get(c) for r in dict_rows] for c in cols}
    return find_text_column(values, source=str(p), hint="name it with --column (the GUI: the column list)")


def _texts_from_rows(rows: list, column: str | None, p: Path, prefer: str | None) -> list[str]:
    if rows and all(isinstance(r, str) for r in rows):
        return [r.strip() for r in rows if r.strip()]
    col = _text_column([r for r in rows if isinstance(r, dict)][:DETECT_ROWS], column, p, prefer)
    return [t for t in (_row_text(r, col) for r in rows) if t]
