"""Parity of an optimized variant with the fp32 model it was built from (and with the teacher), on real test texts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..core.errors import ModelError
from ..core.results import Record
from ..reports.calibration import Calibration
from ..reports.intervals import paired_difference
from ..reports.metrics import agreement, agreement_matrix, changed_examples, classification_metrics, per_class_agreement

MAX_CHANGED_LISTED = 100


@dataclass
class VariantParity(Record):
    """One optimized variant (or the fp32 reference) on the test split, as optimize reports it."""

    variant: str
    status: str = "ok"  # ok | flagged (agreement below the threshold) | failed | unavailable
    message: str = ""
    path: str = ""
    kind: str = ""  # pytorch | torch_int8 | onnx
    size_bytes: int | None = None
    size_note: str = ""
    folder_bytes: int | None = None
    parameters: int | None = None
    opset: int | None = None
    quantization: dict[str, Any] = field(default_factory=dict)
    accuracy: float | None = None
    macro_f1: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)  # classification_metrics of the variant
    agreement: float | None = None  # share of test labels equal to the fp32 model's
    per_class_agreement: dict[str, float] = field(default_factory=dict)
    max_abs_logit_diff: float | None = None
    mean_abs_logit_diff: float | None = None
    changed_count: int = 0
    changed: list[dict[str, Any]] = field(default_factory=list)  # the examples whose label changed (first 100)
    difference: dict[str, Any] = field(default_factory=dict)  # macro-F1 minus the fp32 model's, paired bootstrap
    agreement_matrix: list[list[int]] = field(default_factory=list)  # rows: the fp32 model's label, columns: this one's
    teacher_agreement: float | None = None  # with the teacher's labels (when the distill stage recorded them)
    teacher_agreement_matrix: list[list[int]] = field(default_factory=list)  # rows: the teacher's label
    teacher_changed: list[dict[str, Any]] = field(default_factory=list)  # texts labelled unlike the teacher (first 100)
    calibration: Calibration | None = None  # its own temperature (fitted on its validation outputs), ECE/Brier/NLL
    flagged: bool = False
    build_seconds: float | None = None
    agreement_with: dict[str, float] = field(default_factory=dict)  # e.g. the pruned INT8 against the unpruned one
    vocabulary: dict[str, Any] = field(default_factory=dict)  # vocabulary pruning: pieces kept, texts checked


def parity_report(ref_logits: np.ndarray, var_logits: np.ndarray, labels: Sequence[int], texts: Sequence[str],
                  label_names: Sequence[str], threshold: float, max_listed: int = MAX_CHANGED_LISTED) -> dict[str, Any]:
    """Compare a variant's logits with the fp32 reference's (both in data-label order)."""
    ref_logits, var_logits = np.asarray(ref_logits, dtype=np.float64), np.asarray(var_logits, dtype=np.float64)
    if ref_logits.shape != var_logits.shape:
        raise ModelError(f"The variant returns logits of shape {var_logits.shape}, the fp32 model {ref_logits.shape}.")
    ref_pred, var_pred = ref_logits.argmax(-1), var_logits.argmax(-1)
    diff = np.abs(ref_logits - var_logits)
    m = classification_metrics(labels, var_pred, label_names, intervals=True)
    agree = agreement(ref_pred, var_pred)
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "metrics": m,
            "agreement": agree, "per_class_agreement": per_class_agreement(ref_pred, var_pred, label_names),
            "max_abs_logit_diff": float(diff.max()) if diff.size else 0.0,
            "mean_abs_logit_diff": float(diff.mean()) if diff.size else 0.0,
            "changed_count": int((ref_pred != var_pred).sum()),
            "changed": changed_examples(ref_pred, var_pred, labels, texts, label_names, max_listed=max_listed),
            "agreement_matrix": agreement_matrix(ref_pred, var_pred, len(label_names)),
            "flagged": bool(agree < threshold),
            "difference": paired_difference(labels, var_pred, ref_pred, len(label_names))}


def teacher_comparison(teacher_pred: Sequence[int], var_logits: np.ndarray, labels: Sequence[int], texts: Sequence[str],
                       label_names: Sequence[str], max_listed: int = MAX_CHANGED_LISTED) -> dict[str, Any]:
    """A variant against the teacher's labels on the same texts: agreement, the matrix and the changed examples."""
    teacher_pred, var_pred = np.asarray(teacher_pred), np.asarray(var_logits).argmax(-1)
    return {"teacher_agreement": agreement(teacher_pred, var_pred),
            "teacher_agreement_matrix": agreement_matrix(teacher_pred, var_pred, len(label_names)),
            "teacher_changed": changed_examples(teacher_pred, var_pred, labels, texts, label_names,
                                                keys=("teacher_label", "variant_label"), max_listed=max_listed)}
