"""One reader per table format, for training data (:mod:`.readers`) and for files to predict
(:mod:`ntmm_engine.inference.textfiles`).

* text tables (``.csv``, ``.tsv``, ``.txt``): UTF-8 (a byte-order mark is fine), the delimiter sniffed
  among comma, semicolon, tab and pipe;
* JSON (a list of records, or columns of lists) and JSON Lines;
* Excel and OpenDocument sheets (``.xlsx``/``.xlsm`` with openpyxl, ``.xls``/``.ods`` with
  python-calamine): the sheet named, else the first;
* any of these compressed: ``.gz``, ``.bz2``, or a ``.zip`` holding one table.

:func:`inspect` finds out what a file is (and says it in :meth:`TableFile.describe`, for the data
report); :func:`read_frame` reads a whole table as a pandas DataFrame (training);
:func:`iter_records` streams its rows (prediction). Every file a user can get wrong ends in a
:class:`DataError` naming the file, line or sheet.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import math
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from ..core.errors import DataError

TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".text")
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
SHEET_ENGINES = {".xlsx": "openpyxl", ".xlsm": "openpyxl", ".xls": "calamine", ".ods": "calamine"}
PARQUET_SUFFIXES = (".parquet", ".pq")
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip"}
TABLE_SUFFIXES = TEXT_SUFFIXES + JSON_SUFFIXES + tuple(SHEET_ENGINES) + PARQUET_SUFFIXES
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
HEAD_BYTES = 65536  # read to sniff the delimiter and check the encoding
CHUNK_ROWS = 2000  # rows per pandas chunk when streaming a text table
UTF8_HINT = "re-save the file as UTF-8 (e.g. from Excel: CSV UTF-8)"


@dataclass
class TableFile:
    """What :func:`inspect` found out about a table file."""

    path: Path
    kind: str  # text | lines (one text a line) | json | jsonl | sheet | parquet
    suffix: str  # the table's own suffix: ".csv" for notes.csv.gz
    compression: str = ""  # gzip | bz2 | zip
    member: str = ""  # the table inside a .zip
    delimiter: str = ""
    encoding: str = ""  # UTF-8 | UTF-8 with BOM
    sheet: str = ""
    sheets: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The file as messages name it (with the table inside a .zip)."""
        return f"{self.path}" + (f" ({self.member})" if self.member else "")

    def describe(self) -> str:
        """In words, for the data report: "semicolon-separated, UTF-8, gzip-compressed"."""
        if self.kind == "text":
            parts = [f"{DELIMITERS.get(self.delimiter, repr(self.delimiter))}-separated", self.encoding]
        elif self.kind == "lines":
            parts = ["one text a line", self.encoding]
        elif self.kind in ("json", "jsonl"):
            parts = ["JSON Lines" if self.kind == "jsonl" else "JSON", self.encoding]
        elif self.kind == "sheet":
            book = "OpenDocument spreadsheet" if self.suffix == ".ods" else "Excel workbook"
            parts = [f"{book}, sheet '{self.sheet}'"]
        else:
            parts = ["Parquet"]
        if self.compression == "zip":
            parts.append(f"{self.member} in a .zip")
        elif self.compression:
            parts.append(f"{self.compression}-compressed")
        return ", ".join(p for p in parts if p)


def is_table_name(path: str | Path) -> bool:
    """True when the file name says it is a table NTMM reads (``notes.csv``, ``notes.csv.gz``, ``x.zip``...)."""
    suffixes = [s.lower() for s in Path(path).suffixes[-2:]]
    return bool(suffixes) and (suffixes[-1] in TABLE_SUFFIXES or suffixes[-1] in COMPRESSIONS)


# ------------------------------------------------------------------ inspecting
def inspect(path: str | Path, *, sheet: str = "", what: str = "data.train", lines_ok: bool = False) -> TableFile:
    """Find out how ``path`` is stored (compression, format, delimiter, encoding, sheet) and check it can be read.

    ``lines_ok``: a ``.txt`` that does not look like a table is one text a line (files to predict);
    otherwise a text table with one column.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    tf = TableFile(p, kind="text", suffix=suffix)
    if suffix in COMPRESSIONS:
        tf.compression = COMPRESSIONS[suffix]
        tf.suffix = Path(p.stem).suffix.lower() or ".csv"  # "notes.gz" holds text
        if tf.compression == "zip":
            tf.member = _zip_member(p)
            tf.suffix = Path(tf.member).suffix.lower()
    if tf.suffix in SHEET_ENGINES:
        tf.kind = "sheet"
        _pick_sheet(tf, sheet, what)
        return tf
    if tf.suffix in PARQUET_SUFFIXES:
        if tf.compression:
            raise DataError(f"{tf.name}: a Parquet file inside {suffix}; Parquet is compressed already.",
                            hint="use the .parquet file itself")
        tf.kind = "parquet"
        return tf
    head, whole = _head(tf)
    text = _check_text(tf, head, whole)
    if tf.suffix in JSON_SUFFIXES:
        tf.kind = "jsonl" if tf.suffix != ".json" else "json"
        if not text.strip():
            raise DataError(f"{tf.name} is empty.")
        return tf
    tf.delimiter = sniff_delimiter(text, prefer="\t" if tf.suffix == ".tsv" else ",",
                                   candidates=";\t|" if lines_ok and tf.suffix in (".txt", ".text") else ",;\t|")
    if not tf.delimiter:
        if lines_ok and tf.suffix in (".txt", ".text"):
            tf.kind = "lines"
            return tf
        tf.delimiter = "\t" if tf.suffix == ".tsv" else ","
    _check_header(tf, text, whole)
    return tf


def sniff_delimiter(text: str, *, prefer: str = ",", candidates: str = ",;\t|") -> str:
    """The delimiter that splits the header, and most rows, into the same number (at least 2) of fields; "" if none.

    csv.Sniffer proposes one; the header decides, because Sniffer alone takes the comma of
    "chest pain, severe;cardio" rows for the delimiter when each text holds one comma.
    """
    whole_lines = text[: text.rfind("\n") + 1] or text  # the head may end inside a row
    order: list[str] = []
    try:
        order.append(csv.Sniffer().sniff(whole_lines[:16384], delimiters=candidates).delimiter)
    except csv.Error:
        pass
    order += [d for d in (prefer, *candidates) if d in candidates and d not in order]
    best, best_share = "", 0.5
    for d in order:
        rows = [r for r in csv.reader(io.StringIO(whole_lines), delimiter=d) if any(f.strip() for f in r)][:500]
        if not rows or len(rows[0]) < 2:
            continue
        share = sum(len(r) == len(rows[0]) for r in rows[1:]) / max(len(rows) - 1, 1)
        if share > best_share or (share == best_share == 1.0 and not best):
            best, best_share = d, share
    return best


def _zip_member(p: Path) -> str:
    try:
        with zipfile.ZipFile(p) as zf:
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{p} is not a readable .zip archive ({exc}).") from None
    files = [n for n in names if not n.startswith("__MACOSX/") and not Path(n).name.startswith(".")]
    tables = [n for n in files if Path(n).suffix.lower() in TABLE_SUFFIXES]
    if len(tables) != 1:
        listed = ", ".join(files[:10]) + (" ..." if len(files) > 10 else "")
        raise DataError(f"{p} holds {len(tables)} tables ({listed or 'no files'}); NTMM reads a .zip that holds one table.",
                        hint="put one CSV, JSON or Excel file in each .zip, or unzip it and choose the file")
    return tables[0]


def _pick_sheet(tf: TableFile, sheet: str, what: str) -> None:
    with _workbook(tf) as book:
        tf.sheets = [str(s) for s in book.sheet_names]
    if sheet and sheet not in tf.sheets:
        raise DataError(f"{what}: no sheet '{sheet}' in {tf.name} (sheets: {', '.join(tf.sheets)}).",
                        hint="set the sheet to one of these, or leave it empty for the first sheet")
    if not tf.sheets:
        raise DataError(f"{tf.name} holds no sheets.")
    tf.sheet = sheet or tf.sheets[0]


def _head(tf: TableFile) -> tuple[bytes, bool]:
    """The first HEAD_BYTES of the (decompressed) table, and whether that is all of it."""
    with open_binary(tf) as fh:
        head = fh.read(HEAD_BYTES)
        whole = not fh.read(1)
    return head, whole


def _check_text(tf: TableFile, head: bytes, whole: bool) -> str:
    """The head as text; refuses UTF-16, binary data and other encodings than UTF-8, naming the line."""
    if not head:
        raise DataError(f"{tf.name} is empty.")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{tf.name} is UTF-16 text; NTMM reads UTF-8.", hint=UTF8_HINT)
    if b"\x00" in head:
        raise DataError(f"{tf.name} is not a text file (it contains binary data).",
                        hint="export the data as CSV, JSON Lines or Excel")
    tf.encoding = "UTF-8 with BOM" if head.startswith(b"\xef\xbb\xbf") else "UTF-8"
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if whole or exc.start < len(head) - 4:  # not just a character cut at the end of the head
            raise not_utf8(tf, head, exc) from None
        return head[: exc.start].decode("utf-8-sig")


def not_utf8(tf: TableFile, data: bytes, exc: UnicodeDecodeError, offset: int = 0) -> DataError:
    """The error for bytes that are not UTF-8: the line and byte where they start."""
    line = data[: exc.start].count(b"\n") + 1
    return DataError(f"{tf.name} is not UTF-8 text (line {line}, byte {offset + exc.start}: {exc.reason}).", hint=UTF8_HINT)


def _check_header(tf: TableFile, text: str, whole: bool) -> None:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) <= 1 and whole:
        raise DataError(f"{tf.name} has a header but no data rows." if lines else f"{tf.name} is empty.")
    names = [n.strip() for n in next(csv.reader(io.StringIO(lines[0]), delimiter=tf.delimiter))]
    dups = sorted({n for n in names if names.count(n) > 1 and n})
    if dups:
        raise DataError(f"{tf.name}: duplicate column names {dups}.", hint="rename the columns so each is unique")


# ------------------------------------------------------------------ opening
@contextmanager
def open_binary(tf: TableFile) -> Iterator[BinaryIO]:
    """The table's bytes, decompressed; damage in a compressed file is a DataError."""
    zf = None
    try:
        if tf.compression == "gzip":
            fh: Any = gzip.open(tf.path, "rb")
        elif tf.compression == "bz2":
            fh = bz2.open(tf.path, "rb")
        elif tf.compression == "zip":
            zf = zipfile.ZipFile(tf.path)
            fh = zf.open(tf.member)
        else:
            fh = open(tf.path, "rb")
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"Cannot open {tf.name}: {exc}") from None
    try:
        yield fh
    except (EOFError, zlib.error, zipfile.BadZipFile, OSError) as exc:
        if not tf.compression or isinstance(exc, DataError):
            raise
        raise DataError(f"{tf.name} is not a valid {tf.compression} file, or it is damaged or cut off ({exc}).",
                        hint="compress the file again, or use the uncompressed file") from None
    finally:
        fh.close()
        if zf is not None:
            zf.close()


@contextmanager
def _workbook(tf: TableFile):
    import pandas as pd

    engine = SHEET_ENGINES[tf.suffix]
    kind = "OpenDocument spreadsheet" if tf.suffix == ".ods" else "Excel workbook"
    with open_binary(tf) as fh:
        source = io.BytesIO(fh.read()) if tf.compression else tf.path
    try:
        book = pd.ExcelFile(source, engine=engine)
    except ImportError as exc:
        raise DataError(f"Reading {tf.suffix} files needs {exc.name or engine}.",
                        hint=f"pip install {'openpyxl' if engine == 'openpyxl' else 'python-calamine'}") from None
    except Exception as exc:  # zipfile.BadZipFile, CalamineError, XML errors...: not a workbook
        raise DataError(f"{tf.name} is not a readable {kind} ({_cause(exc)}).",
                        hint=f"open it in a spreadsheet program and save it again as {tf.suffix}, or export the sheet as CSV") from None
    try:
        yield book
    finally:
        book.close()


def _cause(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


# ------------------------------------------------------------------ reading
def read_frame(tf: TableFile, *, plain_ok: bool = False):
    """The whole table as a pandas DataFrame with string column names (training data).

    Text tables are parsed with pandas' defaults, as ``datasets`` parses CSV: empty, ``NaN``,
    ``NA`` and ``null`` cells are missing and numbers are numbers. ``plain_ok``: a JSON list of
    strings (and a ``lines`` file, one text a line) is one column ``text`` (unlabelled texts).
    """
    import pandas as pd

    if tf.kind == "sheet":
        frame = _read_sheet(tf)
    elif tf.kind == "lines":
        frame = pd.DataFrame({"text": list(_text_lines(tf))})
    elif tf.kind in ("json", "jsonl"):
        records = list(_json_records(tf))
        if not records:
            raise DataError(f"{tf.name} has no data rows" + (" (an empty JSON list)." if tf.kind == "json" else "."))
        if plain_ok and all(isinstance(r, str) for r in records):
            return pd.DataFrame({"text": records})
        bad = next((i for i, r in enumerate(records, 1) if not isinstance(r, dict)), None)
        if bad is not None:
            raise DataError(f"{tf.name}, record {bad}: expected an object like {{\"text\": ..., \"label\": ...}}, "
                            f"got {type(records[bad - 1]).__name__}.")
        frame = pd.DataFrame.from_records(records)
    elif tf.kind == "text":
        frame = _read_text_table(tf)
    else:
        raise DataError(f"{tf.name}: {tf.kind} files are not read as a table here.")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def iter_records(tf: TableFile) -> Iterator[Any]:
    """Rows streamed as dicts (column -> value, strings for text tables, missing cells None), or
    strings for ``lines`` files and JSON lists of texts (files to predict)."""
    if tf.kind == "lines":
        yield from _text_lines(tf)
    elif tf.kind in ("json", "jsonl"):
        yield from _json_records(tf)
    elif tf.kind == "sheet":
        frame = _read_sheet(tf, as_written=True)
        frame.columns = [str(c) for c in frame.columns]
        for row in frame.to_dict("records"):
            yield {k: _missing_to_none(v) for k, v in row.items()}
    elif tf.kind == "text":
        for chunk in _text_chunks(tf):
            for row in chunk.to_dict("records"):
                yield {str(k): _missing_to_none(v) for k, v in row.items()}
    else:
        raise DataError(f"{tf.name}: unsupported file type '{tf.suffix}'.",
                        hint="use .csv, .tsv, .txt, .json, .jsonl, .xlsx, .xls or .ods")


def _missing_to_none(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def _csv_kwargs(tf: TableFile, as_text: bool) -> dict[str, Any]:
    kwargs: dict[str, Any] = dict(sep=tf.delimiter or ",", encoding="utf-8-sig")
    if as_text:  # files to predict: values stay exactly as written, so outputs keep them untouched
        return {**kwargs, "dtype": str, "keep_default_na": False, "chunksize": CHUNK_ROWS}
    return {**kwargs, "low_memory": False}


def _read_text_table(tf: TableFile):
    """The whole text table (pandas.read_csv with the sniffed delimiter)."""
    import pandas as pd

    with open_binary(tf) as fh, _csv_errors(tf):
        return pd.read_csv(fh, **_csv_kwargs(tf, as_text=False))


def _text_chunks(tf: TableFile):
    """The text table in chunks of CHUNK_ROWS rows, every cell a string (streamed)."""
    import pandas as pd

    with open_binary(tf) as fh, _csv_errors(tf), pd.read_csv(fh, **_csv_kwargs(tf, as_text=True)) as chunks:
        yield from chunks


@contextmanager
def _csv_errors(tf: TableFile) -> Iterator[None]:
    import pandas as pd

    try:
        yield
    except UnicodeDecodeError:
        raise _first_bad_utf8(tf) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{tf.name} is empty.") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{tf.name}: rows have different numbers of fields ({_cause(exc)}).",
                        hint=f"NTMM read it as {tf.describe()}; check the delimiter and quoting of the file") from None


def _first_bad_utf8(tf: TableFile) -> DataError:
    """After a decode error past the head: find the first line that is not UTF-8."""
    offset = 0
    with open_binary(tf) as fh:
        for n, raw in enumerate(fh, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return DataError(f"{tf.name} is not UTF-8 text (line {n}, byte {offset + exc.start}: {exc.reason}).",
                                 hint=UTF8_HINT)
            offset += len(raw)
    return DataError(f"{tf.name} is not UTF-8 text.", hint=UTF8_HINT)


@contextmanager
def _text(tf: TableFile) -> Iterator[io.TextIOWrapper]:
    with open_binary(tf) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
        try:
            yield text
        except UnicodeDecodeError:
            raise _first_bad_utf8(tf) from None
        finally:
            text.detach()  # open_binary closes the file


def _text_lines(tf: TableFile) -> Iterator[str]:
    """The non-blank lines of a one-text-a-line file, stripped."""
    with _text(tf) as fh:
        for line in fh:
            if line.strip():
                yield line.strip()


def _json_records(tf: TableFile) -> Iterator[Any]:
    """The records of a JSON list (or of an object of columns), or of JSON Lines, naming the bad line."""
    with _text(tf) as fh:
        if tf.kind == "json":
            text = fh.read()
            try:
                data = json.loads(text)
            except ValueError:
                if not text.lstrip().startswith("{"):
                    raise DataError(f"{tf.name} is not a list of JSON records.",
                                    hint='write a list like [{"text": ..., "label": ...}, ...] or JSON Lines') from None
                data = None  # JSON Lines in a .json file
            if data is not None:
                yield from _json_table(tf, data)
                return
            lines: Any = io.StringIO(text)
        else:
            lines = fh
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError as exc:
                raise DataError(f"{tf.name}, line {n}: not valid JSON ({exc}).",
                                hint="each line of a JSON Lines file must be one complete JSON object") from None


def _json_table(tf: TableFile, data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        n = max(len(v) for v in data.values())  # columns of values: {"text": [...], "label": [...]}
        return [{k: (v[i] if i < len(v) else None) for k, v in data.items()} for i in range(n)]
    if isinstance(data, dict):
        raise DataError(f"{tf.name} is one JSON object, not a list of records.",
                        hint='write a list like [{"text": ..., "label": ...}, ...] or JSON Lines')
    raise DataError(f"{tf.name} is not a list of JSON records.",
                    hint='write a list like [{"text": ..., "label": ...}, ...] or JSON Lines')


def _read_sheet(tf: TableFile, *, as_written: bool = False):
    """The chosen sheet as a DataFrame (``as_written``: cells as stored, so "007" stays a string; else
    pandas' inference, as for text tables); an empty sheet, or one with a header only, is an error."""
    import pandas as pd

    with _workbook(tf) as book:
        try:
            frame = pd.read_excel(book, sheet_name=tf.sheet, dtype=object if as_written else None)
        except Exception as exc:  # a damaged sheet inside a readable workbook
            raise DataError(f"{tf.name}, sheet '{tf.sheet}' cannot be read ({_cause(exc)}).") from None
    frame = frame.dropna(how="all")  # Excel keeps formatted but empty rows
    if not len(frame.columns):
        raise DataError(f"{tf.name}, sheet '{tf.sheet}' is empty.",
                        hint=f"choose the sheet with the data (sheets: {', '.join(tf.sheets)})")
    if not len(frame):
        raise DataError(f"{tf.name}, sheet '{tf.sheet}' has a header but no data rows.")
    return frame
