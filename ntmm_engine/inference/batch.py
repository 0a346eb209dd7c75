"""Batch prediction over the rows of a file: rows in, (rows, predictions) out, and the score against a
column of gold labels when the file has one. ``ntmm predict --file`` and the GUI's Predict step use both."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

from ..data.columns import label_like_name
from ..data.prepare import label_key
from .explain import explain as explain_text
from .predictors import Prediction, Predictor
from .textfiles import row_text


def predict_rows(predictor: Predictor, rows: Iterable[dict[str, Any]], text_column: str, batch_size: int = 32,
                 explain: bool = False) -> Iterator[tuple[list[dict[str, Any]], list[Prediction | None]]]:
    """Predict rows ``batch_size`` at a time: yields ``(rows, predictions)``, ``None`` for a row without a text.

    Only one batch is held in memory, and batches of texts are those :meth:`Predictor.predict_stream`
    makes, so a file gives the same predictions as the same texts given one by one in order. With
    ``explain``, each prediction also carries its :class:`~.explain.Explanation` (much slower).
    """
    it = iter(rows)
    while True:
        batch = list(itertools.islice(it, batch_size))
        if not batch:
            return
        texts = [row_text(r, text_column) for r in batch]
        found = [t for t in texts if t]
        predictions = predictor.to_predictions(predictor.forward(predictor.encode(found))) if found else []
        if explain:
            for text, pred in zip(found, predictions):
                pred.explanation = explain_text(predictor, text)
        preds = iter(predictions)
        yield batch, [next(preds) if t else None for t in texts]


def output_extras(predictor: Predictor, explain: bool = False) -> list[str]:
    """The ``pred_<name>`` columns a batch output gets: ``uncertain`` with a min confidence set, ``explanation``."""
    return (["uncertain"] if predictor.min_confidence > 0 else []) + (["explanation"] if explain else [])


@dataclass
class GoldScore:
    """Predictions scored against a column of the input that holds the model's classes."""

    column: str
    rows: int  # rows with a gold label and a prediction
    accuracy: float
    macro_f1: float

    def summary(self) -> str:
        return (f"Against column '{self.column}' ({self.rows} rows): accuracy {self.accuracy:.4f}, "
                f"macro-F1 {self.macro_f1:.4f}")


class GoldLabels:
    """Finds, while rows stream by, the input column whose every value is one of the model's classes
    (``1``, ``1.0`` and ``"1"`` are one class, as in training), and scores the predictions against it."""

    def __init__(self, columns: Sequence[str], text_column: str, label_names: Sequence[str]):
        self.label_names = list(label_names)
        self.ids = {label_key(n): i for i, n in enumerate(self.label_names)}
        self.pairs: dict[str, list[tuple[int, int]]] = {c: [] for c in columns if c != text_column}

    def add(self, rows: Sequence[dict[str, Any]], preds: Sequence[Prediction | None]) -> None:
        for row, pred in zip(rows, preds):
            if pred is None:
                continue
            for c in list(self.pairs):
                try:
                    key = label_key(row.get(c))
                except Exception:  # a nested value: not a label column
                    key = "\0"
                if key is None:
                    continue
                if key not in self.ids:
                    del self.pairs[c]  # a value that is no class: not this column
                else:
                    self.pairs[c].append((self.ids[key], pred.label_id))

    def score(self) -> GoldScore | None:
        """The score against the best column (named like a label first, then the most rows); None if none fits."""
        found = [(not label_like_name(c), -len(p), c) for c, p in self.pairs.items() if p]
        if not found:
            return None
        column = sorted(found)[0][2]
        from sklearn.metrics import f1_score

        gold, pred = (list(x) for x in zip(*self.pairs[column]))
        # macro-F1 over the classes present (in the gold labels or the predictions): a file to predict
        # often holds a few of the classes, and the others would count as F1 0.
        return GoldScore(column=column, rows=len(gold), accuracy=sum(g == q for g, q in zip(gold, pred)) / len(gold),
                         macro_f1=float(f1_score(gold, pred, average="macro", zero_division=0)))


def score_rows(rows: Sequence[dict[str, Any]], preds: Sequence[Prediction | None], columns: Sequence[str],
               text_column: str, label_names: Sequence[str]) -> GoldScore | None:
    """:class:`GoldLabels` over rows held in memory (the GUI's batch)."""
    gold = GoldLabels(columns, text_column, label_names)
    gold.add(rows, preds)
    return gold.score()
