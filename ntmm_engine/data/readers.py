"""Reading one data source (CSV/TSV/JSON/JSONL/Parquet file, ``save_to_disk`` folder or hub name) as a
``datasets.Dataset``, with a plain :class:`DataError` for every file a user can get wrong."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..core.errors import DataError
from ..core.models import looks_like_hub_name

FILE_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json", ".jsonl": "json",
                ".ndjson": "json", ".parquet": "parquet", ".pq": "parquet"}


# ------------------------------------------------------------------ loading
def _short_cause(exc: BaseException) -> str:
    """The innermost message of a chained exception (datasets wraps parser errors)."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__
    text = str(seen).strip().splitlines()
    return (text[0] if text else type(seen).__name__)[:300]


def load_table(source: str, base_dir: str | Path = ".", *, what: str = "data.train"):
    """Load one file, ``save_to_disk`` folder or hub dataset name as a ``datasets.Dataset``."""
    import datasets

    if not source:
        raise DataError(f"{what}: no data file given.")
    path = Path(source).expanduser()
    if not path.is_absolute():
        path = (Path(base_dir) / path)
    if path.is_dir():
        try:
            ds = datasets.load_from_disk(str(path))
        except Exception as exc:
            raise DataError(f"{path} is a folder but not one written by datasets.save_to_disk ({_short_cause(exc)}).") from None
        if isinstance(ds, datasets.DatasetDict):
            if "train" not in ds:
                raise DataError(f"{path} holds splits {list(ds)} but no 'train' split.")
            return ds  # caller picks the splits
        return ds
    suffix = path.suffix.lower()
    if suffix in FILE_FORMATS or path.exists():
        if not path.is_file():
            raise DataError(f"File not found: {path}", hint=f"check {what} in the project settings")
        if path.stat().st_size == 0:
            raise DataError(f"{path} is empty.")
        fmt = FILE_FORMATS.get(suffix, "csv")
        return _load_file(path, fmt, suffix)
    if looks_like_hub_name(source):
        return _load_hub(source)
    raise DataError(f"File not found: {path}", hint=f"check {what} in the project settings")


def _load_file(path: Path, fmt: str, suffix: str):
    import datasets

    _check_text_file(path, fmt)
    kwargs: dict[str, Any] = {}
    if suffix == ".tsv":
        kwargs["delimiter"] = "\t"
    if fmt == "json":
        _check_json_shape(path)
    try:
        with _quiet_datasets():  # datasets logs the parser error itself; the DataError below says it plainly
            ds = datasets.load_dataset(fmt, data_files=str(path), split="train", **kwargs)
    except Exception as exc:
        cause = _short_cause(exc)
        if fmt == "json":
            _raise_json_problem(path)
        if "corresponds to no data" in cause:
            raise DataError(f"{path} has no data rows.") from None
        if "codec" in cause or "decode" in cause:
            raise DataError(f"{path} is not UTF-8 text ({cause}).", hint="re-save the file as UTF-8 (e.g. from Excel: CSV UTF-8)") from None
        if "Expected" in cause and "fields" in cause:
            raise DataError(f"{path}: rows have different numbers of fields ({cause}).", hint="check the delimiter and quoting of the file") from None
        if "duplicate" in cause.lower() or "Duplicate" in cause:
            raise DataError(f"{path}: duplicate column names ({cause}).") from None
        raise DataError(f"Cannot read {path} as {fmt.upper()}: {cause}") from None
    if len(ds.column_names) != len(set(ds.column_names)):
        raise DataError(f"{path}: duplicate column names {ds.column_names}.")
    return ds


@contextmanager
def _quiet_datasets() -> Iterator[None]:
    import logging
    lg = logging.getLogger("datasets")
    level = lg.level
    lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        lg.setLevel(level)


def _raise_json_problem(path: Path) -> None:
    """After a failed JSON load: name the first bad line (JSON Lines) or say the file holds no records."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    else:
        if isinstance(whole, list) and not whole:
            raise DataError(f"{path} has no data rows (an empty JSON list).")
        if isinstance(whole, list) and not all(isinstance(r, dict) for r in whole):
            bad = next(i for i, r in enumerate(whole, 1) if not isinstance(r, dict))
            raise DataError(f"{path}, record {bad}: expected an object like {{\"text\": ..., \"label\": ...}}, "
                            f"got {type(whole[bad - 1]).__name__}.")
        return
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{path}, line {n}: not valid JSON ({exc}).",
                            hint="each line of a JSON Lines file must be one complete JSON object") from None
        if not isinstance(rec, dict):
            raise DataError(f"{path}, line {n}: expected a JSON object, got {type(rec).__name__}.")


def _check_text_file(path: Path, fmt: str) -> None:
    if fmt == "parquet":
        return
    head = path.open("rb").read(65536)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{path} is UTF-16 text; NTMM reads UTF-8.", hint="re-save the file as UTF-8 (e.g. from Excel: CSV UTF-8)")
    if b"\x00" in head:
        raise DataError(f"{path} is not a text file (it contains binary data).", hint="export the data as CSV, JSON Lines or Parquet")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the 64 KiB boundary
            raise DataError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}).",
                            hint="re-save the file as UTF-8 (e.g. from Excel: CSV UTF-8)") from None
    if fmt == "csv":
        text = head.decode("utf-8", errors="ignore")
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) <= 1 and path.stat().st_size <= len(head):
            raise DataError(f"{path} has a header but no data rows." if lines else f"{path} is empty.")
        header = lines[0].split("\t" if path.suffix.lower() == ".tsv" else ",")
        names = [h.strip().strip('"') for h in header]
        dups = sorted({n for n in names if names.count(n) > 1 and n})
        if dups:
            raise DataError(f"{path}: duplicate column names {dups}.", hint="rename the columns so each is unique")


def _check_json_shape(path: Path) -> None:
    with path.open("rb") as fh:
        first = fh.read(4096).lstrip()
    if not first:
        raise DataError(f"{path} is empty.")
    if first[:1] == b"[" or path.suffix.lower() == ".jsonl":
        return
    if first[:1] == b"{":
        # JSON Lines (one object per line) is fine; one big object is not a table.
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return  # JSON Lines
        if isinstance(obj, dict) and not any(isinstance(v, list) for v in obj.values()):
            raise DataError(f"{path} is one JSON object, not a list of records.",
                            hint='write a list like [{"text": ..., "label": ...}, ...] or JSON Lines')
        return
    raise DataError(f"{path} is not a list of JSON records.", hint='write a list like [{"text": ..., "label": ...}, ...] or JSON Lines')


def _load_hub(name: str):
    import datasets

    try:
        ds = datasets.load_dataset(name)
    except Exception as exc:
        cause = _short_cause(exc)
        raise DataError(f"Cannot load hub dataset '{name}': {cause}",
                        hint="no file or folder has this name, and the Hugging Face hub cannot be reached or has no such dataset; "
                             "give a local file, or go online once to download it") from None
    return ds
