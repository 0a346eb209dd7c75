"""Writing predictions batch by batch to CSV/TSV/XLSX/JSONL/JSON; a crash never leaves a half-written file.

Every input column is kept, in order and untouched; the prediction columns follow, named so that
they cannot collide with the input's: ``pred_label``, ``pred_score`` (the probability of
``pred_label``), ``p_<class>`` per class, then ``pred_<name>`` for any extra value a prediction
carries (``Prediction.extra``, e.g. an uncertainty). A name the input already uses gets ``_2``
(a second model's columns too: ``pred_label_2``...).
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

from ..core.errors import NTMMError
from ..core.runfolder import write_error
from .predictors import Prediction

OUTPUT_SUFFIXES = (".csv", ".tsv", ".xlsx", ".jsonl", ".json")
XLSX_MAX_ROWS = 1_048_576  # Excel's sheet limit, header included
XLSX_MAX_CELL = 32_767  # characters in one Excel cell


def prediction_fields(pred: Prediction | None, label_names: Sequence[str], extra: Sequence[str] = ()) -> list[Any]:
    """The prediction columns' values for one row (empty for a row without a text)."""
    if pred is None:
        return [None] * (2 + len(label_names) + len(extra))
    more = getattr(pred, "extra", None) or {}
    return ([pred.label, pred.probabilities.get(pred.label)] + [pred.probabilities.get(n) for n in label_names]
            + [more.get(e) for e in extra])


def prediction_columns(columns: Sequence[str], label_names: Sequence[str], models: int = 1,
                       extra: Sequence[str] = ()) -> list[str]:
    """The names of the prediction columns of ``models`` models, none equal to an input column or to each other."""
    taken = set(columns)
    out = []
    for _ in range(models):
        for base in ["pred_label", "pred_score"] + [f"p_{n}" for n in label_names] + [f"pred_{e}" for e in extra]:
            name, i = base, 2
            while name in taken:
                name, i = f"{base}_{i}", i + 1
            taken.add(name)
            out.append(name)
    return out


class PredictionWriter:
    """Writes rows with their predictions to ``.csv``/``.tsv``/``.xlsx``/``.jsonl``/``.json``.

    ``columns`` are the input's columns (``("text",)`` for plain texts); ``write(rows, preds, ...)``
    takes the rows (dicts, or plain texts) and one list of predictions per model (``None`` for a row
    without a text). Rows go to a temp file beside the target, which replaces the target only when
    :meth:`close` is called after success: a crash or a full disk never leaves a half-written
    predictions file behind. Use as a context manager.
    """

    def __init__(self, path: str | Path, label_names: Sequence[str], columns: Sequence[str] = ("text",), *,
                 models: int = 1, extra: Sequence[str] = ()):
        self.path = Path(path).expanduser()
        self.suffix = self.path.suffix.lower()
        if self.suffix not in OUTPUT_SUFFIXES:
            raise NTMMError(f"--out {self.path}: unsupported file type '{self.suffix}'.",
                            hint="use .csv, .tsv, .xlsx, .jsonl or .json")
        self.label_names = list(label_names)
        self.extra = list(extra)
        self.columns = [str(c) for c in columns]
        self.header = self.columns + prediction_columns(self.columns, self.label_names, models, extra)
        self.count = 0
        self.cut_cells = 0  # .xlsx cells cut at Excel's 32,767 characters
        self._fh: Any = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
            if self.suffix == ".xlsx":
                os.close(fd)
                self._open_xlsx()
            else:
                self._fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
                if self.suffix in (".csv", ".tsv"):
                    self._csv = csv.writer(self._fh, delimiter="\t" if self.suffix == ".tsv" else ",")
                    self._csv.writerow(self.header)
                elif self.suffix == ".json":
                    self._fh.write("[")
        except OSError as exc:
            self._discard()
            raise write_error(self.path, exc) from None

    def _open_xlsx(self) -> None:
        from openpyxl import Workbook

        self._book = Workbook(write_only=True)  # streams rows: memory stays flat
        self._sheet = self._book.create_sheet("Predictions")
        self._sheet.append(self.header)

    def write(self, rows: Sequence[dict[str, Any] | str], *preds: Sequence[Prediction | None]) -> None:
        try:
            for i, row in enumerate(rows):
                values = [row.get(c) for c in self.columns] if isinstance(row, dict) else [row]
                for model_preds in preds:
                    values += prediction_fields(model_preds[i], self.label_names, self.extra)
                self._write_row(values)
                self.count += 1
        except OSError as exc:
            self._discard()
            raise write_error(self.path, exc) from None

    def _write_row(self, values: list[Any]) -> None:
        if self.suffix in (".csv", ".tsv"):
            self._csv.writerow(["" if _missing(v) else f"{v:.6f}" if isinstance(v, float) and j >= len(self.columns) else v
                                for j, v in enumerate(values)])
        elif self.suffix == ".xlsx":
            if self.count + 2 > XLSX_MAX_ROWS:
                raise NTMMError(f"{self.path}: more than {XLSX_MAX_ROWS - 1:,} rows do not fit in an Excel sheet.",
                                hint="write .csv or .jsonl instead")
            self._sheet.append([self._xlsx_cell(v) for v in values])
        else:
            record = {k: None if _missing(v) else v for k, v in zip(self.header, values)}
            text = json.dumps(record, ensure_ascii=False, default=_json_value)
            if self.suffix == ".jsonl":
                self._fh.write(text + "\n")
            else:
                self._fh.write(("\n" if self.count == 0 else ",\n") + text)

    def _xlsx_cell(self, v: Any) -> Any:
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        if _missing(v):
            return None
        if isinstance(v, str):
            v = ILLEGAL_CHARACTERS_RE.sub("", v)  # control characters Excel refuses
            if len(v) > XLSX_MAX_CELL:
                self.cut_cells += 1
                v = v[:XLSX_MAX_CELL]
        elif not isinstance(v, (int, float, bool)):
            v = str(v)
        return v

    def close(self) -> Path:
        """Finish the file and move it into place."""
        try:
            if self.suffix == ".xlsx":
                self._book.save(self._tmp)
                with open(self._tmp, "rb") as fh:
                    os.fsync(fh.fileno())
            else:
                if self.suffix == ".json":
                    self._fh.write("\n]\n")
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()
            os.replace(self._tmp, self.path)
        except OSError as exc:
            self._discard()
            raise write_error(self.path, exc) from None
        return self.path

    def _discard(self) -> None:
        fh = self._fh
        if fh is not None and not fh.closed:
            try:
                fh.close()
            except OSError:
                pass
        if getattr(self, "_tmp", None):
            Path(self._tmp).unlink(missing_ok=True)

    def __enter__(self) -> "PredictionWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._discard()


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _json_value(v: Any) -> Any:
    """Values JSON has no type for (numpy numbers, dates from a sheet)."""
    if hasattr(v, "item"):
        return v.item()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def write_predictions(path: str | Path, texts: list[str], preds: list[Prediction], label_names: list[str]) -> Path:
    """Write texts and their predictions to any of :data:`OUTPUT_SUFFIXES`."""
    with PredictionWriter(path, label_names) as w:
        w.write(texts, preds)
    return Path(path).expanduser()
