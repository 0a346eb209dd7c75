"""The deployable bundle: ONNX model, tokenizer, labels, predict.py needing only onnxruntime, tokenizers, numpy.

The main test builds a bundle, makes a fresh virtual environment with only the bundle's requirements
(no torch, no transformers), runs predict.py there and gets the labels and probabilities of
``ntmm predict``. It is skipped (not failed) where no package index can be reached.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from ntmm_engine.core.errors import ModelError, NTMMError
from ntmm_engine.export.bundle import BUNDLE_FILE, export_bundle
from ntmm_engine.inference.predictors import load_predictor

LABELS = ["cardio", "gastro", "neuro"]
TEXTS = ["patient reports chest pain and high blood pressure", "severe headache with seizure today",
         "nausea and liver pain after meals " * 20]  # the last one is truncated at max_length


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_bert_dir):
    """An NTMM PyTorch folder, its ONNX export and the ONNX INT8 variant (as optimize writes them)."""
    from ntmm_engine.export.onnx import export_onnx, quantize_onnx

    root = tmp_path_factory.mktemp("bundle_models")
    hf = root / "student"
    shutil.copytree(tiny_bert_dir, hf)
    info = {"role": "student", "max_length": 24, "label_names": LABELS, "text_column": "note"}
    (hf / "ntmm.json").write_text(json.dumps(info))
    (hf / "README.md").write_text("# Student\n\nA tiny test student.\n")
    onnx = root / "student_onnx"
    export_onnx(hf, onnx, opset=17)
    (onnx / "ntmm.json").write_text(json.dumps({**info, "variant": "onnx"}))
    int8 = root / "student_onnx_int8"
    shutil.copytree(onnx, int8)
    (int8 / "model.onnx").unlink()
    quantize_onnx(onnx / "model.onnx", int8 / "model.onnx")
    (int8 / "ntmm.json").write_text(json.dumps({**info, "variant": "onnx_int8"}))
    return {"pytorch": hf, "onnx": onnx, "onnx_int8": int8}


def _bundle_predict(folder, texts):
    from ntmm_engine.export import standalone_predict

    return standalone_predict.Bundle(folder).predict(texts)


def _assert_same(bundle_preds, ntmm_preds, atol=1e-5):
    assert [b["label"] for b in bundle_preds] == [p.label for p in ntmm_preds]
    for b, p in zip(bundle_preds, ntmm_preds):
        assert max(abs(b["probabilities"][n] - p.probabilities[n]) for n in LABELS) < atol


@pytest.mark.parametrize("kind", ["onnx", "onnx_int8", "pytorch"])
def test_bundle_folder_and_its_predictions(models, tmp_path, kind):
    out = tmp_path / "bundle"
    result = export_bundle(models[kind], out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["model.onnx", "tokenizer.json", BUNDLE_FILE, "predict.py", "requirements.txt", "README.md"])
    config = json.loads((out / BUNDLE_FILE).read_text())
    assert config["labels"] == LABELS and config["max_length"] == 24 and config["temperature"] is None
    reqs = (out / "requirements.txt").read_text().split()
    assert [r.split("==")[0] for r in reqs] == ["onnxruntime", "tokenizers", "numpy"] and all("==" in r for r in reqs)
    card = (out / "README.md").read_text()
    assert "pip install -r requirements.txt" in card and "cardio, gastro, neuro" in card
    assert ("A tiny test student." in card) == (kind == "pytorch")  # the model folder's own card follows, where it has one
    assert result.max_logit_diff < 1e-4 and "Checked" in result.summary_text()
    _assert_same(_bundle_predict(out, TEXTS), load_predictor(models[kind]).predict(TEXTS))
    assert "import ntmm" not in (out / "predict.py").read_text()
    from ntmm_engine.export import standalone_predict
    assert standalone_predict.CONFIG == BUNDLE_FILE


def test_bundle_applies_the_calibration_temperature(models, tmp_path):
    from ntmm_engine.reports.metrics import softmax

    calibrated = tmp_path / "calibrated"
    shutil.copytree(models["onnx"], calibrated)
    info = json.loads((calibrated / "ntmm.json").read_text())
    (calibrated / "ntmm.json").write_text(json.dumps({**info, "temperature": 2.5}))
    export_bundle(calibrated, tmp_path / "bundle")
    assert json.loads((tmp_path / "bundle" / BUNDLE_FILE).read_text())["temperature"] == 2.5
    logits = load_predictor(calibrated).logits(TEXTS).astype(np.float64)
    expected = softmax(logits / 2.5)
    got = _bundle_predict(tmp_path / "bundle", TEXTS)
    np.testing.assert_allclose([[g["probabilities"][n] for n in LABELS] for g in got], expected, atol=1e-6)
    # NTMM's own predictor applies the same temperature: the bundle gives the calibrated probabilities of ntmm predict
    _assert_same(got, load_predictor(calibrated).predict(TEXTS))


def test_export_refuses_what_it_cannot_bundle(models, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.csv").write_text("keep me")
    with pytest.raises(NTMMError, match="is not empty and holds no NTMM bundle"):
        export_bundle(models["onnx"], busy)
    assert (busy / "notes.csv").read_text() == "keep me"
    int8 = tmp_path / "torch_int8"
    shutil.copytree(models["pytorch"], int8)
    (int8 / "ntmm.json").write_text(json.dumps({"variant": "torch_int8", "max_length": 24, "label_names": LABELS}))
    with pytest.raises(ModelError, match="PyTorch INT8 model"):
        export_bundle(int8, tmp_path / "b")
    with pytest.raises(ModelError, match="Model not found"):
        export_bundle(tmp_path / "nowhere", tmp_path / "b")
    assert not (tmp_path / "b").exists()
    # an earlier bundle is replaced whole
    export_bundle(models["onnx"], tmp_path / "again")
    (tmp_path / "again" / "stale.txt").write_text("old")
    export_bundle(models["onnx"], tmp_path / "again")
    assert not (tmp_path / "again" / "stale.txt").exists()


def test_cli_export(models, tmp_path, capsys):
    from ntmm_engine.cli.main import main

    assert main(["export", "--model", str(models["onnx"] / "model.onnx"), "--out", str(tmp_path / "b"), "-q"]) == 0
    out = capsys.readouterr().out
    assert f"Bundle written to {tmp_path / 'b'}" in out and "pip install -r" in out
    assert main(["export", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "c")]) == 1
    assert "Model not found" in capsys.readouterr().err


@pytest.fixture(scope="module")
def bundle_venv(tmp_path_factory, models):
    """A fresh venv with only the bundle's requirements (no system site-packages); skip if pip cannot install."""
    root = tmp_path_factory.mktemp("bundle_venv")
    bundle = root / "bundle"
    calibrated = root / "student_onnx_int8"  # as optimize writes it: with its own calibration temperature
    shutil.copytree(models["onnx_int8"], calibrated)
    info = json.loads((calibrated / "ntmm.json").read_text())
    (calibrated / "ntmm.json").write_text(json.dumps({**info, "temperature": 1.7}))
    export_bundle(calibrated, bundle)
    venv = root / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"python -m venv is not available here: {made.stderr.strip()[-300:]}")
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    pip = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r",
                          str(bundle / "requirements.txt")], capture_output=True, text=True, env=env, timeout=600)
    if pip.returncode != 0:
        pytest.skip(f"cannot install the bundle's requirements (no package index?): {pip.stderr.strip()[-500:]}")
    return bundle, python, env, calibrated


def test_bundle_in_a_fresh_venv_gives_the_labels_and_probabilities_of_ntmm_predict(bundle_venv, models, tmp_path, capsys):
    from ntmm_engine.cli.main import main

    bundle, python, env, calibrated = bundle_venv
    assert json.loads((bundle / BUNDLE_FILE).read_text())["temperature"] == 1.7  # calibrated probabilities on both sides
    for banned in ("torch", "transformers", "ntmm_engine"):
        probe = subprocess.run([str(python), "-c", f"import {banned}"], capture_output=True, text=True, env=env, cwd=tmp_path)
        assert probe.returncode != 0, f"{banned} is importable in the bundle's venv"
    run = subprocess.run([str(python), str(bundle / "predict.py"), "--json", *TEXTS], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    from_bundle = json.loads(run.stdout)
    assert [b["text"] for b in from_bundle] == TEXTS
    out = tmp_path / "ntmm.jsonl"
    assert main(["predict", "--model", str(calibrated), "--out", str(out), *TEXTS]) == 0
    capsys.readouterr()
    from_ntmm = [json.loads(line) for line in out.read_text().splitlines()]
    assert [b["label"] for b in from_bundle] == [r["pred_label"] for r in from_ntmm]
    for b, r in zip(from_bundle, from_ntmm):
        assert max(abs(b["probabilities"][n] - r[f"p_{n}"]) for n in LABELS) < 1e-5, (b, r)
    plain = subprocess.run([str(python), str(bundle / "predict.py"), TEXTS[0]], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=300)
    assert plain.returncode == 0 and plain.stdout.split("\t")[0] == from_bundle[0]["label"]
