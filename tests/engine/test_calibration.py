"""Calibration maths against hand-computed values, temperature scaling, the "uncertain" threshold, the config."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ntmm_engine.core.config import ProjectConfig
from ntmm_engine.core.errors import ConfigError
from ntmm_engine.core.fingerprints import stage_fingerprints
from ntmm_engine.inference.predictors import Predictor
from ntmm_engine.inference.writers import PredictionWriter
from ntmm_engine.reports.calibration import (
    Calibration,
    brier_score,
    calibrate,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability,
    risk_coverage,
)

PROBS = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
LABELS = [0, 1, 1, 1]  # right, wrong (0.6 on the wrong class), right, right


def test_ece_brier_nll_against_hand_computed_values():
    # one text per bin: ECE = mean |correct - confidence| = (0.1 + 0.6 + 0.3 + 0.2) / 4
    assert expected_calibration_error(PROBS, LABELS) == pytest.approx(0.3)
    # Brier: (0.01 + 0.01) + (0.36 + 0.36) + (0.09 + 0.09) + (0.04 + 0.04), over 4 texts
    assert brier_score(PROBS, LABELS) == pytest.approx(0.25)
    assert negative_log_likelihood(PROBS, LABELS) == pytest.approx(-(np.log(0.9) + np.log(0.4) + np.log(0.7) + np.log(0.8)) / 4)
    # two texts in one bin (0.95 and 0.97 both in (14/15, 1]): |accuracy 0.5 - confidence 0.96| = 0.46
    two = np.array([[0.95, 0.05], [0.03, 0.97]])
    assert expected_calibration_error(two, [0, 0]) == pytest.approx(0.46)
    rel = reliability(two, [0, 0])
    assert rel.counts[14] == 2 and sum(rel.counts) == 2 and len(rel.edges) == 16
    assert rel.accuracy[14] == pytest.approx(0.5) and rel.confidence[14] == pytest.approx(0.96) and rel.accuracy[0] is None
    # a perfectly calibrated, perfectly sure model
    assert expected_calibration_error(np.eye(3), [0, 1, 2]) == 0 and brier_score(np.eye(3), [0, 1, 2]) == 0


def _overconfident(n=3000, k=4, scale=5.0, seed=0):
    """Labels drawn from softmax(z): z are calibrated logits, scale * z an over-confident model's."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k)) * 1.5
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(k, p=row) for row in p])
    return scale * z, labels


def test_temperature_fit_lowers_nll_of_an_overconfident_model_and_changes_no_label():
    logits, labels = _overconfident()
    t = fit_temperature(logits, labels)
    assert 4.0 < t < 6.0  # the logits were inflated 5x
    c = calibrate({"validation": (logits[:1500], labels[:1500]), "test": (logits[1500:], labels[1500:])})
    assert c.fitted_on == "validation" and c.temperature == pytest.approx(fit_temperature(logits[:1500], labels[:1500]))
    for split in ("validation", "test"):
        raw, cal = c.scores(split, calibrated=False), c.scores(split, calibrated=True)
        assert cal.nll < raw.nll and cal.ece < raw.ece and cal.brier < raw.brier
        assert cal.accuracy == raw.accuracy  # temperature scaling moves no label
    assert c.scores("test").ece < 0.05
    # an under-confident model gets T < 1; a model with nothing to fit keeps T = 1
    assert fit_temperature(logits / 25, labels) < 1
    assert fit_temperature(np.zeros((0, 3)), []) == 1.0
    # a stored temperature is scored, not refitted; the record round-trips through JSON
    stored = calibrate({"test": (logits, labels)}, temperature=2.0)
    assert stored.temperature == 2.0 and stored.fitted_on == "stored"
    again = Calibration.from_dict(json.loads(json.dumps(c.to_dict())))
    assert again.scores("test").reliability.counts == c.scores("test").reliability.counts
    assert again.risk_coverage.thresholds == c.risk_coverage.thresholds and "→" in again.summary()


def test_risk_coverage_and_the_threshold_for_a_target_accuracy():
    conf = [0.9, 0.8, 0.8, 0.6, 0.5]
    right = [1, 1, 0, 1, 0]
    probs = np.array([[c, 1 - c] for c in conf])
    labels = [0 if r else 1 for r in right]
    rc = risk_coverage(probs, labels)
    assert rc.thresholds == [0.9, 0.8, 0.6, 0.5]  # the two 0.8s are kept or dropped together
    assert rc.coverage == [0.2, 0.6, 0.8, 1.0]
    assert rc.accuracy == pytest.approx([1.0, 2 / 3, 0.75, 0.6])
    assert rc.threshold_for(0.75) == (0.6, 0.8, 0.75)  # the most coverage at >= 75 %
    assert rc.threshold_for(0.95)[0] == 0.9 and rc.threshold_for(1.01) is None
    assert rc.at(0.85) == (0.2, 1.0) and rc.at(0.95) == (0.0, None) and rc.at(0.0) == (1.0, 0.6)
    assert "covers 80% of validation texts" in rc.describe(0.75) and "no threshold reaches" in rc.describe(1.01)
    big = risk_coverage(np.random.default_rng(1).dirichlet([1, 1, 1], size=5000), np.zeros(5000, dtype=int))
    assert len(big.thresholds) <= 500 and big.coverage[-1] == 1.0


class FixedPredictor(Predictor):
    """A predictor whose logits are given: the base class does the softmax, the temperature and the threshold."""

    def __init__(self, logits, info=None):
        super().__init__(".", None, ["a", "b", "c"], 8, info or {})
        self._logits = np.asarray(logits, dtype=np.float32)

    def encode(self, texts, **_kw):
        return {"n": np.arange(len(texts))}

    def forward(self, encoded):
        return self._logits[encoded["n"]]


def test_every_predictor_divides_by_the_stored_temperature_and_marks_exactly_the_rows_below_the_threshold(tmp_path):
    logits = np.array([[2.0, 0.0, 0.0], [1.0, 0.9, 0.0], [0.0, 0.0, 3.0], [0.5, 0.5, 0.4]])
    plain = FixedPredictor(logits).predict(["w", "x", "y", "z"])
    hot = FixedPredictor(logits, {"temperature": 2.0}).predict(["w", "x", "y", "z"])
    expected = np.exp(logits / 2) / np.exp(logits / 2).sum(axis=1, keepdims=True)
    np.testing.assert_allclose([[p.probabilities[n] for n in "abc"] for p in hot], expected, atol=1e-12)
    assert [p.label for p in hot] == [p.label for p in plain]
    for bad in (0, -1, "2", None, float("nan")):  # a broken temperature is no temperature
        assert FixedPredictor(logits, {"temperature": bad}).temperature == 1.0

    pred = FixedPredictor(logits, {"temperature": 2.0})
    top = expected.max(axis=1)
    pred.min_confidence = float(top[1])  # exactly the second row's confidence: it is kept (not below)
    marked = pred.predict(["w", "x", "y", "z"])
    assert [p.uncertain for p in marked] == [bool(t < top[1]) for t in top] == [False, False, False, True]
    pred.min_confidence = 0.0
    assert not any(p.uncertain for p in pred.predict(["w", "x", "y", "z"]))
    # batch outputs: the pred_uncertain column says the same
    pred.min_confidence = 0.5
    preds = pred.predict(["w", "x", "y", "z"])
    out = tmp_path / "p.jsonl"
    with PredictionWriter(out, pred.label_names, ["text"], extra=["uncertain"]) as w:
        w.write(["w", "x", "y", "z"], preds)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["pred_uncertain"] for r in rows] == [bool(t < 0.5) for t in top]
    assert all(abs(r["pred_score"] - t) < 1e-6 for r, t in zip(rows, top))


def test_predict_min_confidence_is_a_setting_that_changes_no_stage(tmp_path):
    cfg = ProjectConfig(run_dir=str(tmp_path / "runs"))
    cfg.base_dir = str(tmp_path)
    before = stage_fingerprints(cfg)
    cfg.set_value("predict.min_confidence", "0.7")
    assert cfg.predict.min_confidence == 0.7 and stage_fingerprints(cfg) == before
    cfg.save(tmp_path / "p.yaml")
    assert "predict:\n  min_confidence: 0.7" in (tmp_path / "p.yaml").read_text()
    with pytest.raises(ConfigError, match=r"predict.min_confidence: 1.5 is out of range"):
        cfg.set_value("predict.min_confidence", "1.5")


@pytest.fixture(scope="module")
def calibrated_model(tmp_path_factory, tiny_bert_dir):
    """A tiny model with its temperature and calibration record in ntmm.json, as the stages write them."""
    import shutil

    from testdata import make_rows

    from ntmm_engine.inference.predictors import load_predictor

    folder = tmp_path_factory.mktemp("calibrated") / "model"
    shutil.copytree(tiny_bert_dir, folder)
    info = {"max_length": 32, "label_names": ["cardio", "gastro", "neuro"]}
    (folder / "ntmm.json").write_text(json.dumps(info))
    rows = make_rows(10, seed=3)
    logits = load_predictor(folder).logits([r["text"] for r in rows])
    labels = [info["label_names"].index(r["label"]) for r in rows]
    c = calibrate({"validation": (logits, labels), "test": (logits, labels)})
    (folder / "ntmm.json").write_text(json.dumps({**info, **c.model_info()}))
    return folder


def test_cli_min_confidence_target_accuracy_and_explain(calibrated_model, tmp_path, capsys):
    import csv

    from ntmm_engine.cli.main import main
    from ntmm_engine.inference.predictors import load_predictor

    texts = ["patient reports chest pain", "severe headache and a seizure", "nausea after meals"]
    probs = [p.confidence for p in load_predictor(calibrated_model).predict(texts)]
    threshold = sorted(probs)[1]  # the lowest row is below it, the middle one exactly at it (kept)
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", str(calibrated_model), "--min-confidence", str(threshold), "--out", str(out), *texts]) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [r["pred_uncertain"] for r in rows] == [str(p < threshold) for p in probs] and sum(p < threshold for p in probs) == 1
    assert "1 of 3 prediction(s) below the minimum confidence" in captured.err
    assert captured.out.count("uncertain — review") == 1
    # the project's predict.min_confidence, through --config
    project = tmp_path / "p.yaml"
    project.write_text("predict:\n  min_confidence: 0.999\n")
    assert main(["predict", "--model", str(calibrated_model), "--config", str(project), *texts]) == 0
    assert capsys.readouterr().out.count("uncertain — review") == 3
    # a threshold from a target accuracy on the model's validation curve
    curve = load_predictor(calibrated_model).calibration.risk_coverage
    target = max(curve.accuracy)  # reached by some threshold, by definition
    assert main(["predict", "--model", str(calibrated_model), "--target-accuracy", str(target), *texts]) == 0
    assert f"keep predictions at ≥ {target:.0%} accuracy" in capsys.readouterr().err
    # explanations: printed under each prediction, a column with --out
    assert main(["predict", "--model", str(calibrated_model), "--explain", texts[0]]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].startswith("  because of: ") and "(" in printed[1]
    out = tmp_path / "e.jsonl"
    assert main(["predict", "--model", str(calibrated_model), "--explain", "--out", str(out), *texts]) == 0
    capsys.readouterr()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(r["pred_explanation"] for r in records) and "pred_uncertain" not in records[0]  # no threshold: no column
