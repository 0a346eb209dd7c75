"""Reading one data source (a table file, a ``save_to_disk`` folder or a hub name) as a
``datasets.Dataset``, with a plain :class:`DataError` for every file a user can get wrong.

Table files are read by :mod:`.tables` (the same reader prediction uses); Parquet files and
folders by ``datasets``.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..core.errors import DataError
from ..core.models import looks_like_hub_name
from . import tables


# ------------------------------------------------------------------ loading
def _short_cause(exc: BaseException) -> str:
    """The innermost message of a chained exception (datasets wraps parser errors)."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__
    text = str(seen).strip().splitlines()
    return (text[0] if text else type(seen).__name__)[:300]


def load_table(source: str, base_dir: str | Path = ".", *, what: str = "data.train", sheet: str = ""):
    """Load one file, ``save_to_disk`` folder or hub dataset name as a ``datasets.Dataset``."""
    return read_source(source, base_dir, what=what, sheet=sheet)[0]


def read_source(source: str, base_dir: str | Path = ".", *, what: str = "data.train", sheet: str = "",
                plain_ok: bool = False):
    """``(dataset, how it was read)``: the Dataset (or DatasetDict of a folder or hub dataset) and, in
    words, its format ("semicolon-separated, UTF-8, gzip-compressed") for the data report.

    ``plain_ok`` (texts without labels): a ``.txt`` that is not a table holds one text a line, and a JSON
    list of strings one text an item, both read as a column ``text`` (as files to predict are read).
    """
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
        if isinstance(ds, datasets.DatasetDict) and "train" not in ds:
            raise DataError(f"{path} holds splits {list(ds)} but no 'train' split.")
        return ds, "datasets.save_to_disk folder"  # a DatasetDict: the caller picks the splits
    if tables.is_table_name(path) or path.exists():
        if not path.is_file():
            raise DataError(f"File not found: {path}", hint=f"check {what} in the project settings")
        if path.stat().st_size == 0:
            raise DataError(f"{path} is empty.")
        tf = tables.inspect(path, sheet=sheet, what="data.sheet", lines_ok=plain_ok)
        return (_load_parquet(path) if tf.kind == "parquet" else _from_frame(tf, plain_ok)), tf.describe()
    if looks_like_hub_name(source):
        return _load_hub(source), "Hugging Face hub dataset"
    raise DataError(f"File not found: {path}", hint=f"check {what} in the project settings")


def _from_frame(tf: tables.TableFile, plain_ok: bool = False):
    import datasets
    import pyarrow as pa

    frame = tables.read_frame(tf, plain_ok=plain_ok)
    try:
        return datasets.Dataset.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"{tf.name}: a column mixes kinds of values ({_short_cause(exc)}).",
                        hint="each column should hold one kind of value (text, numbers or objects)") from None


def _load_parquet(path: Path):
    import datasets

    try:
        with _quiet_datasets():  # datasets logs the parser error itself; the DataError below says it plainly
            ds = datasets.load_dataset("parquet", data_files=str(path), split="train")
    except Exception as exc:
        raise DataError(f"Cannot read {path} as Parquet: {_short_cause(exc)}") from None
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
