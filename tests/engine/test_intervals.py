"""Bootstrap intervals and paired differences: seeded, covering the score, agreeing with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from ntmm_engine.reports.compare import baseline_check
from ntmm_engine.reports.intervals import (
    format_difference,
    format_score,
    paired_difference,
    resample_counts,
    score_intervals,
)
from ntmm_engine.reports.metrics import classification_metrics


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 300)
    good = np.where(rng.random(300) < 0.85, y, rng.integers(0, 4, 300))
    worse = np.where(rng.random(300) < 0.55, y, rng.integers(0, 4, 300))
    return y, good, worse


def test_interval_is_seeded_and_covers_the_score(data):
    y, good, _ = data
    a, b = score_intervals(y, good, 4), score_intervals(y, good, 4)
    assert a == b  # the same inputs give the same interval
    assert score_intervals(y, good, 4, seed=1) != a
    m = classification_metrics(y, good, list("abcd"), intervals=True)
    for key in ("accuracy", "macro_f1"):
        lo, hi = m[f"{key}_ci"]
        assert lo < m[key] < hi and hi - lo < 0.2
    assert m["examples"] == 300


def test_resampled_scores_are_scikit_learns(data):
    from ntmm_engine.reports.intervals import _scores

    y, good, _ = data
    counts = resample_counts(len(y), 5, seed=9)
    scores = _scores(y, good, counts, 4)
    for r in range(5):
        idx = np.repeat(np.arange(len(y)), counts[r])
        assert scores["accuracy"][r] == pytest.approx(accuracy_score(y[idx], good[idx]))
        assert scores["macro_f1"][r] == pytest.approx(f1_score(y[idx], good[idx], average="macro", zero_division=0))


def test_paired_difference_tells_real_gains_from_noise(data):
    y, good, worse = data
    d = paired_difference(y, good, worse, 4)
    assert d["significant"] and d["interval"][0] > 0 and d["difference"] > 0.2
    same = paired_difference(y, good, good, 4)
    assert same["difference"] == 0 and not same["significant"]
    near = good.copy()
    near[:3] = (near[:3] + 1) % 4  # three changed predictions: not a real difference
    assert not paired_difference(y, good, near, 4)["significant"]
    assert "not significant" in format_difference(paired_difference(y, good, near, 4))
    assert format_score(0.65, [0.6, 0.7]) == "0.650 (0.600–0.700)"


def test_the_warning_appears_when_a_model_does_not_beat_the_baseline(data):
    y, good, worse = data
    weak = baseline_check("teacher", y, worse, good, 4)
    assert not weak.clearly_better and "below" in weak.warning and "train longer" in weak.warning
    tie = baseline_check("student", y, good, good, 4)
    assert not tie.clearly_better and "not clearly better than" in tie.warning
    strong = baseline_check("teacher", y, good, worse, 4)
    assert strong.clearly_better and strong.warning == ""
    assert strong.baseline_macro_f1 == pytest.approx(f1_score(y, worse, average="macro"))
