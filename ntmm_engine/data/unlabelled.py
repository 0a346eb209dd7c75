"""Texts without labels for distillation (``data.unlabelled``): read, cleaned, counted.

Each entry of ``data.unlabelled`` is a file, a folder or a hub dataset name. Files are read
by the training data's reader (:func:`.readers.read_source`, :mod:`.tables`), so the formats
and the messages for bad files are the same; in addition, a ``.txt`` that is not a table holds
one text a line and a JSON list of strings one text an item (as files to predict). A folder
written by ``datasets.save_to_disk`` is read as such (every split); any other folder gives
every data file under it, in name order (hidden files and the run folder are skipped).

The text column is ``data.unlabelled_text_column``, else the training data's text column when a
file has it, else the one the training-data detector picks
(:func:`~ntmm_engine.data.columns.find_text_column`). Texts are stripped; empty ones, texts also
in validation or test (the student would see the evaluation texts through its teacher), texts
that are already training texts, and repeats are dropped and counted in the data report.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any, Callable

from ..core.config import DataConfig
from ..core.errors import DataError
from . import tables
from .columns import _is_number, find_text_column
from .prepare import PreparedData, UnlabelledReport, measure_token_lengths
from .readers import read_source

WHAT = "data.unlabelled"
DROP_REASONS = ("empty text", "in validation or test", "duplicate of a training text", "duplicate")
SAVE_TO_DISK_FILES = ("dataset_info.json", "dataset_dict.json", "state.json")
DETECT_ROWS = 2000  # rows the text column is detected on, as for the training data


def read_unlabelled(cfg: DataConfig, prepared: PreparedData, *, base_dir: str | Path = ".", tokenizer=None,
                    exclude: str | Path | None = None, on_progress: Callable[[str], None] | None = None) -> list[str]:
    """The usable unlabelled texts, in file order; ``prepared.report.unlabelled`` says what was read and dropped.

    ``exclude``: a folder never read (the run folder, should it lie inside a folder of texts).
    Raises :class:`DataError` for a bad file and when no text is left.
    """
    say = on_progress or (lambda _m: None)
    report = UnlabelledReport(sources=[s for s in cfg.unlabelled if s])
    if not report.sources:
        return []
    say("reading unlabelled texts")
    prefer = prepared.report.text_column
    raw: list[str] = []
    for source in report.sources:
        for name, ds, how in read_entry(source, Path(base_dir), cfg.sheet, exclude):
            column = text_column(ds, cfg.unlabelled_text_column, prefer, name)
            texts = _clean(ds[column], name, column)
            report.files[name], report.formats[name], report.text_columns[name] = len(texts), how, column
            raw += texts
    report.read = len(raw)
    kept = _deduplicate(raw, prepared, report)
    if not kept:
        reasons = ", ".join(f"{n} {reason}" for reason, n in report.dropped.items() if n)
        raise DataError(f"{WHAT}: none of the {report.read} texts in {', '.join(report.sources)} can be used ({reasons}).",
                        hint="give texts that are not in the training, validation or test data, or leave data.unlabelled empty")
    report.used = len(kept)
    report.fingerprint = texts_fingerprint(kept)
    if tokenizer is not None:
        say("measuring token lengths of the unlabelled texts")
        measure_token_lengths(report, kept, tokenizer, cfg.max_length)
    prepared.report.unlabelled = report
    return kept


def texts_fingerprint(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\x1e")
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ reading
def read_entry(source: str, base_dir: Path, sheet: str = "", exclude: str | Path | None = None):
    """``(name, Dataset, how it was read)`` for each file (or split) of one entry of data.unlabelled, read lazily."""
    import datasets

    path = Path(source).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if path.is_dir() and not any((path / f).is_file() for f in SAVE_TO_DISK_FILES):
        files = _folder_files(path, exclude)
        if not files:
            raise DataError(f"{WHAT}: the folder {path} holds no data files (.csv, .tsv, .txt, .json, .jsonl, .xlsx, "
                            ".xls, .ods, .parquet, plain or compressed).", hint="choose the files themselves, or another folder")
        for f in files:
            ds, how = read_source(str(f), base_dir, what=WHAT, sheet=sheet, plain_ok=True)
            yield str(f), ds, how
        return
    ds, how = read_source(source, base_dir, what=WHAT, sheet=sheet, plain_ok=True)
    if isinstance(ds, datasets.DatasetDict):
        for split, part in ds.items():
            yield f"{source} ({split})", part, how
    else:
        yield str(path) if path.exists() else source, ds, how


def _folder_files(folder: Path, exclude: str | Path | None) -> list[Path]:
    skip = Path(exclude).resolve() if exclude else None
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).parts
        if any(part.startswith(".") for part in rel) or not p.is_file() or not tables.is_table_name(p):
            continue
        if skip is not None and (p.resolve() == skip or skip in p.resolve().parents):
            continue
        out.append(p)
    return out


def text_column(ds, named: str, prefer: str, name: str) -> str:
    """``named`` (it must exist), else the training data's text column if the file has it, else detected."""
    cols = list(ds.column_names)
    if named:
        if named not in cols:
            raise DataError(f"data.unlabelled_text_column: column '{named}' is not in {name} (columns: {', '.join(cols)}).")
        return named
    if prefer in cols:
        return prefer
    if len(ds) == 0:
        raise DataError(f"{name} has no data rows.")
    sample = ds.select(range(min(len(ds), DETECT_ROWS)))
    return find_text_column({c: sample[c] for c in cols}, source=name,
                            hint="set data.unlabelled_text_column to the column with the texts")


def _clean(values: list[Any], name: str, column: str) -> list[str]:
    """Every value as stripped text ("" for a missing one); a nested value is an error naming its row."""
    out = []
    for row, v in enumerate(values, start=2):
        if isinstance(v, (list, dict)):
            raise DataError(f"{name}, row {row}: text column '{column}' holds a nested value ({type(v).__name__}), not text.",
                            hint="flatten the column to plain text, or set data.unlabelled_text_column to another column")
        out.append("" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip())
    sample = [t for t in out[:5000] if t]
    if sample and all(_is_number(t) for t in sample):
        raise DataError(f"{name}: text column '{column}' holds only numbers (e.g. {sample[0]!r}), not free text.",
                        hint="set data.unlabelled_text_column to the column with the texts")
    return out


def _deduplicate(texts: list[str], prepared: PreparedData, report: UnlabelledReport) -> list[str]:
    """Drop empty texts, texts of validation or test, training texts and repeats; count each in ``report``."""
    held = set(prepared.splits["validation"]["text"]) | set(prepared.splits["test"]["text"])
    train = set(prepared.splits["train"]["text"])
    dropped = dict.fromkeys(DROP_REASONS, 0)
    seen: set[str] = set()
    kept = []
    for t in texts:
        reason = ("empty text" if not t else "in validation or test" if t in held
                  else "duplicate of a training text" if t in train else "duplicate" if t in seen else "")
        if reason:
            dropped[reason] += 1
            continue
        seen.add(t)
        kept.append(t)
    report.dropped = {k: v for k, v in dropped.items() if v}
    return kept
