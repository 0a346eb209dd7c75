"""Bootstrap confidence intervals for accuracy and macro-F1, and paired differences between two models.

A test split of a few hundred texts moves macro-F1 by several points between
resamples, so every score NTMM shows carries a 95 % percentile-bootstrap
interval, and every difference it claims ("distillation +4.6 points") comes
from a *paired* bootstrap: both models are scored on the same resampled
examples, and the difference is called real only when its interval excludes 0.

Written with numpy because scikit-learn has no bootstrap for classification
metrics and scipy's ``bootstrap`` resamples one statistic at a time (macro-F1
of 1,000 resamples is one matrix product here). Seeded: the same inputs give
the same interval.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

RESAMPLES = 1000
LEVEL = 0.95
SEED = 0
_CHUNK = 200  # resamples per matrix product (bounds memory for large splits)


def resample_counts(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """How often each of ``n`` examples is drawn in each bootstrap resample: (resamples, n) integer counts."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples) if n else np.zeros((resamples, 0), dtype=np.int64)


def _scores(labels: np.ndarray, preds: np.ndarray, counts: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """Accuracy and macro-F1 of every resample (weights = draw counts)."""
    correct = (labels == preds).astype(np.float64)
    true_1h = np.eye(n_classes)[labels]
    pred_1h = np.eye(n_classes)[preds]
    acc, f1 = [], []
    for start in range(0, counts.shape[0], _CHUNK):
        w = counts[start:start + _CHUNK].astype(np.float64)
        n = w.sum(axis=1)
        acc.append((w @ correct) / np.maximum(n, 1))
        tp = w @ (true_1h * correct[:, None])
        support, predicted = w @ true_1h, w @ pred_1h
        denom = support + predicted
        # F1 = 2 TP / (support + predicted), averaged over the classes that occur in the resample (as scikit-learn's
        # f1_score does without labels=): a class a small resample happens to miss is not a wrong prediction.
        present = denom > 0
        per_class = np.where(present, 2 * tp / np.maximum(denom, 1e-12), 0.0)
        f1.append(per_class.sum(axis=1) / np.maximum(present.sum(axis=1), 1))
    return {"accuracy": np.concatenate(acc), "macro_f1": np.concatenate(f1)}


def _interval(values: np.ndarray, level: float = LEVEL) -> list[float]:
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return [float(lo), float(hi)]


def score_intervals(labels: Sequence[int], preds: Sequence[int], n_classes: int, *, resamples: int = RESAMPLES,
                    seed: int = SEED) -> dict[str, list[float]]:
    """95 % bootstrap intervals: ``{"accuracy": [lo, hi], "macro_f1": [lo, hi]}``."""
    labels, preds = np.asarray(labels, dtype=np.int64), np.asarray(preds, dtype=np.int64)
    if not len(labels):
        return {"accuracy": [0.0, 0.0], "macro_f1": [0.0, 0.0]}
    scores = _scores(labels, preds, resample_counts(len(labels), resamples, seed), n_classes)
    return {k: _interval(v) for k, v in scores.items()}


def paired_difference(labels: Sequence[int], preds_a: Sequence[int], preds_b: Sequence[int], n_classes: int, *,
                      metric: str = "macro_f1", resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, Any]:
    """``a`` minus ``b`` on the same examples: the difference, its 95 % paired-bootstrap interval, and whether
    the interval excludes 0 (``significant``)."""
    labels = np.asarray(labels, dtype=np.int64)
    a, b = np.asarray(preds_a, dtype=np.int64), np.asarray(preds_b, dtype=np.int64)
    if not (len(labels) == len(a) == len(b)):
        raise ValueError(f"paired comparison needs predictions of the same examples ({len(labels)}, {len(a)}, {len(b)})")
    counts = resample_counts(len(labels), resamples, seed)
    full = np.ones((1, len(labels)), dtype=np.int64)
    diff = float(_scores(labels, a, full, n_classes)[metric][0] - _scores(labels, b, full, n_classes)[metric][0])
    lo, hi = _interval(_scores(labels, a, counts, n_classes)[metric] - _scores(labels, b, counts, n_classes)[metric])
    return {"metric": metric, "difference": diff, "interval": [lo, hi], "significant": bool(lo > 0 or hi < 0),
            "examples": int(len(labels))}


def format_score(value: float | None, interval: Sequence[float] | None = None, digits: int = 3) -> str:
    """``0.650 (0.600–0.700)``: a score with its interval, as every table shows it."""
    if value is None:
        return "-"
    text = f"{value:.{digits}f}"
    if interval:
        text += f" ({interval[0]:.{digits}f}–{interval[1]:.{digits}f})"
    return text


def format_difference(d: dict[str, Any] | None, scale: float = 100.0, unit: str = " points") -> str:
    """``+4.6 points (+1.2 to +8.0)``, marked when the interval includes 0."""
    if not d:
        return "-"
    lo, hi = d["interval"]
    text = f"{d['difference'] * scale:+.1f}{unit} ({lo * scale:+.1f} to {hi * scale:+.1f})"
    return text if d["significant"] else text + ", not significant"
