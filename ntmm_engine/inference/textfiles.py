"""Reading the rows to classify from a table file (:mod:`ntmm_engine.data.tables`, the reader training
uses), streamed row by row, with every input column kept for the output.

The text column is the one named, else the one the model was trained on (if
the file has it), else the one the training-data detector picks
(:func:`~ntmm_engine.data.columns.find_text_column`). A ``.txt`` file that is
not a table (tab, semicolon or pipe-separated with a header) holds one text a line.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..core.errors import DataError
from ..data import tables
from ..data.columns import find_text_column

DETECT_ROWS = 200  # rows read ahead to find the text column
TEXT = "text"  # the column of files without columns (one text a line, a JSON list of texts)
PREDICT_SUFFIXES = tables.TEXT_SUFFIXES + tables.JSON_SUFFIXES + tuple(tables.SHEET_ENGINES) + ("",)


@dataclass
class TextsFile:
    """An opened file of texts: its columns in order, the text column, how it was read, and its rows.

    ``rows`` streams dicts (column -> value; values of text tables are the strings as written), the
    ones read ahead first. Iterate it once.
    """

    path: Path
    columns: list[str]
    text_column: str
    format: str
    rows: Iterator[dict[str, Any]]
    sheets: list[str]
    plain: bool = False  # texts without columns (one a line, a JSON list of texts): their column is "text"


def open_texts_file(path: str | Path, column: str | None = None, *, prefer: str | None = None,
                    sheet: str = "") -> TextsFile:
    """Open a CSV/TSV/TXT/JSON/JSONL/Excel/ODS file of texts, plain or compressed.

    The head is read now: a missing file, an unknown type, a bad encoding or an
    unknown column raise :class:`DataError` at once; problems further down when
    reading reaches them, naming the line where it can.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"File not found: {p}")
    tf = tables.inspect(p, sheet=sheet, what="--sheet", lines_ok=True)
    if tf.suffix not in PREDICT_SUFFIXES:
        raise DataError(f"{p}: unsupported file type '{tf.suffix}'.",
                        hint="use .csv, .tsv, .txt (one text a line), .json, .jsonl, .xlsx, .xls or .ods")
    records = tables.iter_records(tf)
    head = list(itertools.islice(records, DETECT_ROWS))
    if tf.kind == "lines" or (head and all(isinstance(r, str) for r in head)):  # one text a line, a JSON list of texts
        rows: Iterator[Any] = ({TEXT: r} for r in itertools.chain(head, records) if isinstance(r, str))
        return TextsFile(p, [TEXT], TEXT, tf.describe(), rows, tf.sheets, plain=True)
    dicts = [r for r in head if isinstance(r, dict)]
    columns = [str(c) for c in dict.fromkeys(k for r in dicts for k in r if k is not None)]
    col = _text_column(dicts, columns, column, p, prefer)
    rows = (r for r in itertools.chain(head, records) if isinstance(r, dict))
    return TextsFile(p, columns, col, tf.describe(), rows, tf.sheets)


def file_sheets(path: str | Path) -> list[str]:
    """The sheet names of an Excel/ODS file (plain or in a .zip); [] for other files or a file that cannot be read."""
    try:
        return tables.inspect(Path(path).expanduser(), lines_ok=True).sheets
    except DataError:
        return []


def row_text(row: dict[str, Any], column: str) -> str:
    """The text of one row, stripped ("" for a missing or empty cell)."""
    v = row.get(column)
    return "" if v is None else str(v).strip()


def iter_texts_file(path: str | Path, column: str | None = None, *, prefer: str | None = None,
                    sheet: str = "") -> Iterator[str]:
    """Stream the non-blank texts of a file (see :func:`open_texts_file`); memory does not grow with the file
    (a ``.json`` list and a sheet are read whole)."""
    f = open_texts_file(path, column, prefer=prefer, sheet=sheet)
    return (t for t in (row_text(r, f.text_column) for r in f.rows) if t)


def read_texts_file(path: str | Path, column: str | None = None, *, prefer: str | None = None, sheet: str = "") -> list[str]:
    """The non-blank texts of a file, as a list."""
    return list(iter_texts_file(path, column, prefer=prefer, sheet=sheet))


def texts_file_columns(path: str | Path, *, prefer: str | None = None, sheet: str = "") -> tuple[list[str], str | None]:
    """Columns of a file of records, and the one :func:`read_texts_file` picks when none is named;
    ``([], None)`` for files of plain texts, and no column when none holds text (the user picks one)."""
    p = Path(path).expanduser()
    try:
        f = open_texts_file(p, prefer=prefer, sheet=sheet)
    except _NoTextColumn as exc:
        return exc.columns, None
    return ([], None) if f.plain else (f.columns, f.text_column)


class _NoTextColumn(DataError):
    def __init__(self, message: str, columns: list[str], **kw: Any):
        super().__init__(message, **kw)
        self.columns = columns


def _text_column(rows: list[dict], columns: list[str], column: str | None, p: Path, prefer: str | None) -> str:
    """``column`` if given (it must exist), else ``prefer`` (the column the model was trained on) if the file
    has it, else the detector training uses."""
    if not rows:
        raise DataError(f"{p} holds no rows of texts.")
    if column:
        if column not in columns:
            raise DataError(f"{p}: column '{column}' not found (columns: {', '.join(columns)}).")
        return column
    if prefer and prefer in columns:
        return prefer
    values = {c: [r.get(c) for r in rows] for c in columns}
    try:
        return find_text_column(values, source=str(p), hint="name it with --column (the GUI: the column list)")
    except DataError as exc:
        raise _NoTextColumn(exc.message, columns, hint=exc.hint) from None
