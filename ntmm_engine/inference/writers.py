"""Writing predictions batch by batch to CSV/TSV/JSON; a crash never leaves a half-written file."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Sequence

from ..core.errors import NTMMError
from ..core.runfolder import write_error
from .predictors import Prediction


class PredictionWriter:
    """Writes predictions batch by batch to ``.csv``/``.tsv`` (text, label, p_<label>...) or ``.json``.

    Rows go to a temp file beside the target, which replaces the target only
    when :meth:`close` is called after success: a crash or a full disk never
    leaves a half-written predictions file behind. Use as a context manager.
    """

    def __init__(self, path: str | Path, label_names: Sequence[str]):
        import tempfile

        self.path = Path(path).expanduser()
        self.suffix = self.path.suffix.lower()
        if self.suffix not in (".json", ".csv", ".tsv"):
            raise NTMMError(f"--out {self.path}: unsupported file type '{self.suffix}'.", hint="use .csv or .json")
        self.label_names = list(label_names)
        self.count = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
            self._fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
            if self.suffix == ".json":
                self._fh.write("[")
            else:
                self._csv = csv.writer(self._fh, delimiter="\t" if self.suffix == ".tsv" else ",")
                self._csv.writerow(["text", "label", "label_id"] + [f"p_{n}" for n in self.label_names])
        except OSError as exc:
            self._discard()
            raise write_error(self.path, exc) from None

    def write(self, texts: Sequence[str], preds: Sequence[Prediction]) -> None:
        try:
            for t, pr in zip(texts, preds):
                if self.suffix == ".json":
                    self._fh.write(("\n" if self.count == 0 else ",\n")
                                   + json.dumps({"text": t, **pr.to_dict()}, ensure_ascii=False))
                else:
                    self._csv.writerow([t, pr.label, pr.label_id] + [f"{pr.probabilities[n]:.6f}" for n in self.label_names])
                self.count += 1
        except OSError as exc:
            self._discard()
            raise write_error(self.path, exc) from None

    def close(self) -> Path:
        """Finish the file and move it into place."""
        try:
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
        fh = getattr(self, "_fh", None)
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


def write_predictions(path: str | Path, texts: list[str], preds: list[Prediction], label_names: list[str]) -> Path:
    """Write predictions to ``.csv`` (text, label, one p_<label> column per class) or ``.json``."""
    with PredictionWriter(path, label_names) as w:
        w.write(texts, preds)
    return Path(path).expanduser()
