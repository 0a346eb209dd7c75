"""What the Data step shows: the first rows of a file, and the data report with token lengths.

Short, read-only work the app runs on a worker thread; nothing here writes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.config import DataConfig
from ..core.errors import DataError, NTMMError
from ..core.models import load_tokenizer, resolve_model_source
from .columns import detect_columns
from .prepare import DataReport, prepare_data, token_lengths
from .readers import read_source
from .unlabelled import read_entry, read_unlabelled, text_column

PREVIEW_ROWS = 50
MAX_LENGTH_SAMPLE = 5000  # training texts measured for the token-length chart

_tokenizers: dict[tuple[str, str], Any] = {}
_tok_lock = threading.Lock()


@dataclass
class DataPreview:
    """The head of a data source and the columns NTMM would use."""

    columns: list[str]
    rows: list[list[Any]]
    n_rows: int
    detected: tuple[str, str]  # (text column, label column); ("", "") when they cannot be told
    format: str = ""  # how the file was read: "semicolon-separated, UTF-8", "Excel workbook, sheet 'Notes'"


@dataclass
class DataAnalysis:
    """The data report, plus the raw token lengths of (up to 5,000) training texts."""

    report: DataReport
    lengths: list[int] = field(default_factory=list)
    tokenizer_error: str = ""
    unlabelled_lengths: list[int] = field(default_factory=list)  # of (up to 5,000) unlabelled texts, when given


def preview_data(source: str, base_dir: str, n: int = PREVIEW_ROWS, sheet: str = "") -> DataPreview:
    """First rows, columns and detected text/label columns of a data source, and how it was read."""
    import datasets

    ds, how = read_source(source, base_dir, what="data.train", sheet=sheet)
    if isinstance(ds, datasets.DatasetDict):
        ds = ds["train"]
    head = ds.select(range(min(n, len(ds)))).to_dict()
    columns = list(ds.column_names)
    try:
        detected = detect_columns(ds, source=source)
    except DataError:
        detected = ("", "")
    n_head = len(head[columns[0]]) if columns else 0
    return DataPreview(columns=columns, rows=[[head[c][i] for c in columns] for i in range(n_head)],
                       n_rows=len(ds), detected=detected, format=how)


@dataclass
class UnlabelledPreview:
    """The head of the first unlabelled file, the column its texts come from, and how it was read."""

    source: str  # the file (or split) shown
    columns: list[str]
    rows: list[list[Any]]
    n_rows: int
    text_column: str  # "" when it cannot be told (the message says why)
    format: str = ""
    message: str = ""  # why no text column was found


def preview_unlabelled(sources: list[str], base_dir: str, *, text_column_name: str = "", prefer: str = "",
                       sheet: str = "", n: int = PREVIEW_ROWS, exclude: str = "") -> UnlabelledPreview:
    """First rows of the first file of ``data.unlabelled`` and its text column (named, the training data's, or detected)."""
    source = next((s for s in sources if s), "")
    if not source:
        raise DataError("data.unlabelled: no file or folder given.")
    name, ds, how = next(iter(read_entry(source, Path(base_dir), sheet, exclude or None)))
    columns = list(ds.column_names)
    head = ds.select(range(min(n, len(ds)))).to_dict()
    column, message = "", ""
    try:
        column = text_column(ds, text_column_name, prefer, name)
    except DataError as exc:
        message = str(exc)
    n_head = len(head[columns[0]]) if columns else 0
    return UnlabelledPreview(source=name, columns=columns, rows=[[head[c][i] for c in columns] for i in range(n_head)],
                             n_rows=len(ds), text_column=column, format=how, message=message)


def tokenizer_for(base_model: str, base_dir: str):
    """The base model's tokenizer, loaded once per (model, folder) for the session."""
    key = (base_model, base_dir)
    with _tok_lock:
        if key not in _tokenizers:
            _tokenizers[key] = load_tokenizer(resolve_model_source(base_model, base_dir))
        return _tokenizers[key]


def analyse_data(data_cfg: DataConfig, seed: int, base_dir: str, base_model: str, run_dir: str = "") -> DataAnalysis:
    """The data report and the token lengths of the training texts and of the unlabelled ones (with the
    base model's tokenizer); ``run_dir`` is never read as a folder of unlabelled texts."""
    tok, tok_error = None, ""
    try:
        tok = tokenizer_for(base_model, base_dir)
    except NTMMError as exc:
        tok_error = str(exc).splitlines()[0]
    prepared = prepare_data(data_cfg, seed=seed, base_dir=base_dir, tokenizer=tok)
    unlabelled = read_unlabelled(data_cfg, prepared, base_dir=base_dir, tokenizer=tok, exclude=run_dir or None)
    lengths: list[int] = []
    u_lengths: list[int] = []
    if tok is not None:
        lengths = token_lengths(list(prepared.splits["train"]["text"][:MAX_LENGTH_SAMPLE]), tok)
        u_lengths = token_lengths(unlabelled[:MAX_LENGTH_SAMPLE], tok) if unlabelled else []
    return DataAnalysis(report=prepared.report, lengths=lengths, tokenizer_error=tok_error, unlabelled_lengths=u_lengths)
