"""Comparisons a user can trust: is a model clearly better than the classical baseline, and by how much.

Both answers come from a paired bootstrap on the same test examples
(:func:`~ntmm_engine.reports.intervals.paired_difference`): a model is
"clearly better" only when the 95 % interval of its macro-F1 minus the
baseline's lies above 0. Otherwise the app shows a warning banner and the
CLI prints one, with what to try.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from ..core.results import Record
from .intervals import format_difference, paired_difference
from .metrics import classification_metrics

CLASSICAL = "the classical TF-IDF + logistic regression baseline"
ADVICE = ("train longer (epochs: auto sizes training for the data), add labelled data, "
          "or keep the classical model: it is in the Predict step and the benchmark")


@dataclass
class BaselineCheck(Record):
    """``model`` against the classical baseline on one split."""

    model: str
    split: str = "test"
    model_macro_f1: float | None = None
    baseline_macro_f1: float | None = None
    difference: dict[str, Any] = field(default_factory=dict)  # paired_difference(model, baseline)
    clearly_better: bool = False

    @property
    def warning(self) -> str:
        """'' when the model is clearly better, else the text of the warning."""
        if self.clearly_better:
            return ""
        d = self.difference
        where = "below" if d and d["interval"][1] < 0 else "not clearly better than"
        return (f"The {self.model} is {where} {CLASSICAL} on the {self.split} split (macro-F1 "
                f"{self.model_macro_f1:.3f} vs {self.baseline_macro_f1:.3f}; difference {format_difference(d)}). "
                f"Try: {ADVICE}.")


def baseline_check(model: str, labels: Sequence[int], model_preds: Sequence[int], baseline_preds: Sequence[int],
                   n_classes: int, split: str = "test") -> BaselineCheck:
    """Compare a model's predictions with the classical baseline's on the same examples."""
    d = paired_difference(labels, model_preds, baseline_preds, n_classes)
    names = [str(i) for i in range(n_classes)]
    m = classification_metrics(labels, model_preds, names)["macro_f1"]
    return BaselineCheck(model=model, split=split, model_macro_f1=m, baseline_macro_f1=m - d["difference"],
                         difference=d, clearly_better=bool(d["interval"][0] > 0))
