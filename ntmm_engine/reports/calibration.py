"""Calibration: do a model's probabilities mean what they say, and where to say "not sure".

Every model NTMM trains or builds is scored on validation and test with

* **ECE** (expected calibration error): the top-class probability cut into 15
  equal-width bins; the mean gap between a bin's confidence and its accuracy,
  weighted by the bin's share of texts (0 = perfectly calibrated);
* **Brier score**: the squared distance between the probability vector and the
  one-hot label, summed over classes and averaged over texts (0 best, 2 worst);
* **NLL**: the mean negative log-probability of the true class,

before and after **temperature scaling** (Guo et al., 2017): one scalar ``T``
per model, fitted on the validation split by minimising NLL, by which the
logits are divided before the softmax. It changes no label (the argmax is the
same), only how sure the probabilities sound. The temperature is stored in
the model's ``ntmm.json`` and every predictor applies it.

The **risk–coverage curve** (on validation, calibrated probabilities) says,
for each threshold on the top probability, which share of texts is kept and
how accurate the kept predictions are; :meth:`RiskCoverage.threshold_for`
turns "keep predictions at 95 % accuracy" into a threshold.

Written with numpy and scipy (a dependency of scikit-learn) rather than
torch: the ONNX and classical variants calibrate in processes without torch,
and the fit is one bounded scalar minimisation (below).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..core.results import Record

N_BINS = 15
T_BOUNDS = (0.05, 20.0)  # a temperature outside this range means the validation split cannot tell
MAX_CURVE_POINTS = 500   # risk–coverage points kept (evenly over coverage); exact for smaller splits
SPLITS = ("validation", "test")


# ------------------------------------------------------------------ numbers
def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def calibrated_probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``softmax(logits / temperature)`` in float64: what every predictor returns."""
    return np.exp(log_softmax(np.asarray(logits, dtype=np.float64) / float(temperature)))


def _checked(probs: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    p, y = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(f"expected probabilities (texts, classes) and one label per text, got {p.shape} and {y.shape}")
    return p, y


def _bins(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin index of each confidence: bins (lo, hi], the first one closed at 0."""
    return np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)


def expected_calibration_error(probs: Any, labels: Any, n_bins: int = N_BINS) -> float:
    """ECE with ``n_bins`` equal-width bins on the top-class probability."""
    p, y = _checked(probs, labels)
    if not len(y):
        return 0.0
    conf, correct = p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)
    b = _bins(conf, n_bins)
    gap = np.abs(np.bincount(b, weights=correct, minlength=n_bins) - np.bincount(b, weights=conf, minlength=n_bins))
    return float(gap.sum() / len(y))  # sum over bins of n_b/N * |acc_b - conf_b|, as counts cancel


def brier_score(probs: Any, labels: Any) -> float:
    """Multi-class Brier score: mean over texts of the squared distance to the one-hot label."""
    p, y = _checked(probs, labels)
    if not len(y):
        return 0.0
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), y] = 1.0
    return float(((p - onehot) ** 2).sum(axis=1).mean())


def negative_log_likelihood(probs: Any, labels: Any, eps: float = 1e-15) -> float:
    """Mean of -log p(true class); a zero probability counts as ``eps``."""
    p, y = _checked(probs, labels)
    if not len(y):
        return 0.0
    return float(-np.log(np.clip(p[np.arange(len(y)), y], eps, None)).mean())


def _nll_from_logits(logits: np.ndarray, labels: np.ndarray, inv_t: float) -> float:
    return float(-log_softmax(logits * inv_t)[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: Any, labels: Any) -> float:
    """The temperature that minimises the NLL of ``softmax(logits / T)`` on these examples.

    NLL is convex in ``1/T`` (log-sum-exp of a linear function of it), so scipy's bounded Brent
    search on ``1/T`` finds the global minimum: deterministic, with no learning rate or step
    count to tune (torch's LBFGS would need both, and torch). T = 1 when there is nothing to fit.
    """
    from scipy.optimize import minimize_scalar

    z, y = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    if z.ndim != 2 or not len(y) or z.shape[1] < 2:
        return 1.0
    lo, hi = 1.0 / T_BOUNDS[1], 1.0 / T_BOUNDS[0]
    res = minimize_scalar(lambda b: _nll_from_logits(z, y, b), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-9, "maxiter": 500})
    inv_t = float(res.x)
    if not np.isfinite(inv_t) or _nll_from_logits(z, y, inv_t) > _nll_from_logits(z, y, 1.0):
        return 1.0
    return 1.0 / inv_t


# ------------------------------------------------------------------ records
@dataclass
class Reliability(Record):
    """The reliability diagram's data: per equal-width confidence bin, its texts, mean confidence and accuracy."""

    edges: list[float] = field(default_factory=list)               # n_bins + 1 bin edges on [0, 1]
    counts: list[int] = field(default_factory=list)
    confidence: list[float | None] = field(default_factory=list)   # None for an empty bin
    accuracy: list[float | None] = field(default_factory=list)


def reliability(probs: Any, labels: Any, n_bins: int = N_BINS) -> Reliability:
    p, y = _checked(probs, labels)
    edges = [float(e) for e in np.linspace(0.0, 1.0, n_bins + 1)]
    if not len(y):
        return Reliability(edges=edges, counts=[0] * n_bins, confidence=[None] * n_bins, accuracy=[None] * n_bins)
    conf, correct = p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)
    b = _bins(conf, n_bins)
    counts = np.bincount(b, minlength=n_bins)
    conf_sum = np.bincount(b, weights=conf, minlength=n_bins)
    acc_sum = np.bincount(b, weights=correct, minlength=n_bins)
    return Reliability(edges=edges, counts=[int(c) for c in counts],
                       confidence=[float(s / c) if c else None for s, c in zip(conf_sum, counts)],
                       accuracy=[float(s / c) if c else None for s, c in zip(acc_sum, counts)])


@dataclass
class CalibrationScores(Record):
    """ECE, Brier score and NLL of one model's probabilities on one split."""

    ece: float = 0.0
    brier: float = 0.0
    nll: float = 0.0
    accuracy: float = 0.0
    mean_confidence: float = 0.0
    reliability: Reliability | None = None


def calibration_scores(probs: Any, labels: Any, n_bins: int = N_BINS) -> CalibrationScores:
    p, y = _checked(probs, labels)
    return CalibrationScores(ece=expected_calibration_error(p, y, n_bins), brier=brier_score(p, y),
                             nll=negative_log_likelihood(p, y),
                             accuracy=float((p.argmax(axis=1) == y).mean()) if len(y) else 0.0,
                             mean_confidence=float(p.max(axis=1).mean()) if len(y) else 0.0,
                             reliability=reliability(p, y, n_bins))


@dataclass
class SplitCalibration(Record):
    """One split: the scores of the probabilities as they were (temperature 1) and after temperature scaling."""

    examples: int = 0
    raw: CalibrationScores | None = None
    calibrated: CalibrationScores | None = None


@dataclass
class RiskCoverage(Record):
    """Kept share and accuracy of the kept predictions, for thresholds on the top probability (descending).

    A prediction is kept when its top probability is at least the threshold; the others are
    "uncertain — review".
    """

    split: str = "validation"
    examples: int = 0
    thresholds: list[float] = field(default_factory=list)
    coverage: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)

    def at(self, threshold: float) -> tuple[float, float | None]:
        """(coverage, accuracy of the kept predictions) at ``threshold``; accuracy None when nothing is kept."""
        kept = [i for i, t in enumerate(self.thresholds) if t >= threshold]
        if not kept:
            return 0.0, None
        i = kept[-1]  # thresholds descend: the last one still >= threshold keeps the most
        return self.coverage[i], self.accuracy[i]

    def threshold_for(self, target_accuracy: float) -> tuple[float, float, float] | None:
        """The lowest threshold whose kept predictions reach ``target_accuracy``: (threshold, coverage, accuracy),
        or None when no threshold does."""
        ok = [i for i, a in enumerate(self.accuracy) if a >= target_accuracy - 1e-12]
        if not ok:
            return None
        i = max(ok, key=lambda j: self.coverage[j])
        return self.thresholds[i], self.coverage[i], self.accuracy[i]

    def describe(self, target_accuracy: float) -> str:
        """``keep predictions at ≥ 95 % accuracy: covers 71 % of texts (threshold 0.823)``, on this curve's split."""
        choice = self.threshold_for(target_accuracy)
        if choice is None:
            best = max(self.accuracy, default=0.0)
            return (f"no threshold reaches {target_accuracy:.0%} accuracy on {self.split} "
                    f"(the most confident predictions reach {best:.1%})")
        t, cov, acc = choice
        return (f"keep predictions at ≥ {target_accuracy:.0%} accuracy: covers {cov:.0%} of {self.split} texts "
                f"(threshold {t:.3f}, accuracy {acc:.1%})")


def risk_coverage(probs: Any, labels: Any, split: str = "validation", max_points: int = MAX_CURVE_POINTS) -> RiskCoverage:
    p, y = _checked(probs, labels)
    n = len(y)
    if not n:
        return RiskCoverage(split=split)
    conf = p.max(axis=1)
    order = np.argsort(-conf, kind="stable")
    conf_sorted, correct = conf[order], (p.argmax(axis=1) == y)[order].astype(np.float64)
    kept = np.arange(1, n + 1)
    acc = np.cumsum(correct) / kept
    # a threshold keeps every text at or above it: of a run of equal confidences only the last position counts
    last = np.flatnonzero(np.append(conf_sorted[1:] != conf_sorted[:-1], True))
    if len(last) > max_points:
        last = last[np.unique(np.linspace(0, len(last) - 1, max_points).round().astype(int))]
    return RiskCoverage(split=split, examples=n, thresholds=[float(conf_sorted[i]) for i in last],
                        coverage=[float(kept[i] / n) for i in last], accuracy=[float(acc[i]) for i in last])


@dataclass
class Calibration(Record):
    """One model's calibration: its temperature, the scores before and after it per split, and its
    risk–coverage curve (validation, calibrated probabilities)."""

    temperature: float = 1.0
    fitted_on: str = "validation"  # validation | stored (the model's own temperature, not refitted) | none
    n_bins: int = N_BINS
    splits: dict[str, SplitCalibration] = field(default_factory=dict)
    risk_coverage: RiskCoverage | None = None

    def scores(self, split: str = "test", calibrated: bool = True) -> CalibrationScores | None:
        s = self.splits.get(split)
        return (s.calibrated if calibrated else s.raw) if s is not None else None

    def ece_text(self, split: str = "test") -> str:
        """``ECE 0.081 → 0.024`` (before → after temperature scaling) on one split."""
        raw, cal = self.scores(split, False), self.scores(split, True)
        if raw is None or cal is None:
            return "-"
        return f"{raw.ece:.3f} → {cal.ece:.3f}"

    def summary(self, split: str = "test") -> str:
        """One line: the temperature and the split's ECE, Brier and NLL before → after."""
        raw, cal = self.scores(split, False), self.scores(split, True)
        head = f"temperature {self.temperature:.3f}" + (" (fitted on validation)" if self.fitted_on == "validation" else "")
        if raw is None or cal is None:
            return head
        return (f"{head}; {split} ECE {raw.ece:.3f} → {cal.ece:.3f}, Brier {raw.brier:.3f} → {cal.brier:.3f}, "
                f"NLL {raw.nll:.3f} → {cal.nll:.3f}")

    def well_formed(self) -> bool:
        """True when a record read from a file has the types its readers rely on (files can be edited by hand)."""
        def numbers(xs: Any) -> bool:
            return isinstance(xs, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)

        rc = self.risk_coverage
        return (valid_temperature(self.temperature) == self.temperature and isinstance(self.splits, dict)
                and all(isinstance(v, SplitCalibration) for v in self.splits.values())
                and (rc is None or (isinstance(rc, RiskCoverage) and numbers(rc.thresholds) and numbers(rc.coverage)
                                    and numbers(rc.accuracy) and len(rc.thresholds) == len(rc.coverage) == len(rc.accuracy))))

    def model_info(self) -> dict[str, Any]:
        """What goes into the model's ``ntmm.json``: ``temperature`` (predictors and bundles divide the
        logits by it) and the whole record (the Predict step reads the risk–coverage curve from it)."""
        return {"temperature": float(self.temperature), "calibration": self.to_dict()}


def calibrate(splits: dict[str, tuple[Any, Any]], *, temperature: float | None = None, fit_on: str = "validation",
              n_bins: int = N_BINS) -> Calibration:
    """Fit the temperature on ``splits[fit_on]`` (``{split: (logits, labels)}``) and score every split before
    and after it. With ``temperature`` given, that one is scored instead (a model's stored temperature).

    The classical baseline passes its log-probabilities as logits: softmax gives its probabilities back.
    """
    data = {s: (np.asarray(z, dtype=np.float64), np.asarray(y, dtype=np.int64)) for s, (z, y) in splits.items()}
    if temperature is not None:
        t, how = float(temperature), "stored"
    elif fit_on in data and len(data[fit_on][1]):
        t, how = fit_temperature(*data[fit_on]), fit_on
    else:
        t, how = 1.0, "none"
    out = Calibration(temperature=t, fitted_on=how, n_bins=n_bins)
    for split, (z, y) in data.items():
        raw, cal = calibrated_probabilities(z, 1.0), calibrated_probabilities(z, t)
        out.splits[split] = SplitCalibration(examples=int(len(y)), raw=calibration_scores(raw, y, n_bins),
                                             calibrated=calibration_scores(cal, y, n_bins))
    curve_split = fit_on if fit_on in data else next(iter(data), None)
    if curve_split is not None:
        z, y = data[curve_split]
        out.risk_coverage = risk_coverage(calibrated_probabilities(z, t), y, split=curve_split)
    return out


def valid_temperature(value: Any) -> float:
    """A temperature read from a file: a positive finite number, else 1 (no scaling)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) and value > 0:
        return float(value)
    return 1.0


def calibration_table(rows: Sequence[tuple[str, Calibration | None]], split: str = "test") -> list[str]:
    """Markdown rows ``| model | T | ECE before | after | Brier before | after | NLL before | after |``."""
    out = ["| model | temperature | ECE before | ECE after | Brier before | Brier after | NLL before | NLL after |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, c in rows:
        raw, cal = (c.scores(split, False), c.scores(split, True)) if c is not None else (None, None)
        if raw is None or cal is None:
            out.append(f"| {name} | - | - | - | - | - | - | - |")
            continue
        out.append(f"| {name} | {c.temperature:.3f} | {raw.ece:.4f} | {cal.ece:.4f} | {raw.brier:.4f} | {cal.brier:.4f} | "
                   f"{raw.nll:.4f} | {cal.nll:.4f} |")
    return out
