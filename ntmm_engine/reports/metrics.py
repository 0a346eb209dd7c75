"""Classification metrics (scikit-learn) in one JSON-friendly dict."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .intervals import score_intervals


def classification_metrics(labels: Sequence[int], preds: Sequence[int], label_names: Sequence[str], *,
                           intervals: bool = False) -> dict[str, Any]:
    """accuracy, macro_f1, per_class, confusion_matrix; with ``intervals`` also ``accuracy_ci`` and ``macro_f1_ci``
    (95 % bootstrap, :mod:`.intervals`) and ``examples`` (final evaluations; not needed during training)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    labels = np.asarray(labels)
    preds = np.asarray(preds)
    ids = list(range(len(label_names)))
    p, r, f, s = precision_recall_fscore_support(labels, preds, labels=ids, zero_division=0)
    extra: dict[str, Any] = {}
    if intervals:
        ci = score_intervals(labels, preds, len(label_names))
        extra = {"accuracy_ci": ci["accuracy"], "macro_f1_ci": ci["macro_f1"], "examples": int(len(labels))}
    return {
        "accuracy": float(accuracy_score(labels, preds)) if len(labels) else 0.0,
        "macro_f1": float(np.mean(f)) if len(f) else 0.0,
        "per_class": [
            {"label": name, "precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(label_names)
        ],
        "confusion_matrix": confusion_matrix(labels, preds, labels=ids).tolist(),
        **extra,
    }


def agreement(a: Sequence[int], b: Sequence[int]) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float((a == b).mean()) if len(a) else 1.0


def per_class_agreement(reference: Sequence[int], other: Sequence[int], label_names: Sequence[str]) -> dict[str, float]:
    """Share of identical predictions among examples the reference put in each class."""
    reference, other = np.asarray(reference), np.asarray(other)
    out = {}
    for i, name in enumerate(label_names):
        mask = reference == i
        out[name] = float((other[mask] == i).mean()) if mask.any() else 1.0
    return out


def agreement_matrix(reference: Sequence[int], other: Sequence[int], n_classes: int) -> list[list[int]]:
    """Counts of texts per (reference label, other label): rows the reference's prediction (the teacher, or the
    fp32 student), columns the other model's; off the diagonal are the texts whose label the compression moved."""
    from sklearn.metrics import confusion_matrix

    if not len(reference):
        return [[0] * n_classes for _ in range(n_classes)]
    return confusion_matrix(np.asarray(reference), np.asarray(other), labels=list(range(n_classes))).tolist()


SNIPPET = 160


def snippet(text: str, n: int = SNIPPET) -> str:
    """A text on one line, cut at ``n`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n - 3] + "..."


def changed_examples(reference: Sequence[int], other: Sequence[int], labels: Sequence[int], texts: Sequence[str],
                     label_names: Sequence[str], keys: tuple[str, str] = ("fp32_label", "variant_label"),
                     max_listed: int = 100) -> list[dict[str, Any]]:
    """The first ``max_listed`` texts whose label differs between two models, with both labels and the true one."""
    reference, other = np.asarray(reference), np.asarray(other)
    idx = np.flatnonzero(reference != other)[:max_listed]
    return [{"index": int(i), "text": snippet(texts[i]), keys[0]: label_names[int(reference[i])],
             keys[1]: label_names[int(other[i])], "true_label": label_names[int(labels[i])]} for i in idx]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)
