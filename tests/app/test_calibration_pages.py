"""Calibration, "not sure" and explanations in the window: Predict, Optimize, Benchmark and Distill steps."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from testdata import make_rows

from ntmm_engine import api
from ntmm_engine.reports.calibration import calibrate
from ntmm_engine.reports.metrics import agreement_matrix, changed_examples, classification_metrics

LABELS = ["cardio", "gastro", "neuro"]
TEXT = "patient reports chest pain and nausea since monday"


@pytest.fixture(scope="module")
def calibrated_model(tmp_path_factory, tiny_bert_dir):
    """A tiny model folder with its temperature and calibration record, as the training stages write them."""
    folder = tmp_path_factory.mktemp("calibrated") / "student"
    shutil.copytree(tiny_bert_dir, folder)
    (folder / "ntmm.json").write_text(json.dumps({"max_length": 32, "label_names": LABELS}))
    rows = make_rows(10, seed=3)
    pred = api.load_predictor(folder)
    logits = pred.logits([r["text"] for r in rows])
    labels = [LABELS.index(r["label"]) for r in rows]
    c = calibrate({"validation": (logits, labels), "test": (logits, labels)})
    (folder / "ntmm.json").write_text(json.dumps({"max_length": 32, "label_names": LABELS, **c.model_info()}))
    return folder


def test_predict_page_calibrated_probabilities_uncertain_rows_and_explanations(make_window, tiny_project, calibrated_model,
                                                                               qtbot, tmp_path, wait_idle, capsys):
    from ntmm_engine.cli.main import main

    w = make_window(tiny_project)
    page = w.page("predict")
    w.go_to(5)
    page.slot_a.add_and_load(str(calibrated_model))
    wait_idle(w)
    qtbot.keyClicks(page.text, TEXT)
    wait_idle(w)
    # the same calibrated probabilities in the window, from a fresh load_predictor and from ntmm predict
    fresh = api.load_predictor(calibrated_model).predict([TEXT])[0]
    assert page.slot_a.predictor.temperature == fresh_temperature(calibrated_model) != 1.0
    assert max(abs(page.view_a.probabilities[n] - p) for n, p in fresh.probabilities.items()) < 1e-5
    out = tmp_path / "cli.jsonl"
    assert main(["predict", "--model", str(calibrated_model), "--out", str(out), TEXT]) == 0
    capsys.readouterr()
    row = json.loads(out.read_text())
    assert max(abs(row[f"p_{n}"] - p) for n, p in fresh.probabilities.items()) < 1e-5
    # why this label: the typed text's words, highlighted, for the three most likely classes
    e = page.explanation.explanation
    assert e is not None and e.label == fresh.label and page.explanation.class_combo.count() == 3
    assert [x.text for x in e.words] == TEXT.split() and "background-color" in page.explanation.text.toHtml()
    assert f"pushes towards {fresh.label}" in page.explanation.legend.text()
    assert fresh.label in page.explanation.top.text() and "integrated gradients on the embeddings" in page.explanation.status.text()
    # not sure: the model's risk-coverage curve, a threshold from a target accuracy, or typed in
    control = page.confidence
    assert control.curve is not None and control.chart.points[0]
    control.target.setValue(50.0)
    choice = control.curve.threshold_for(0.5)
    control.use_target()
    if choice is None:
        assert "no threshold reaches" in control.target_text.text() and control.value == 0
    else:  # the threshold, rounded down to the box's 4 decimals: the texts at it stay kept
        assert control.value == int(choice[0] * 1e4) / 1e4 and "covers" in control.target_text.text()
        assert control.curve.at(control.value)[0] >= choice[1] and "keeps" in control.status.text()
    threshold = round(fresh.confidence + 0.001, 4)
    control.spin.setValue(threshold)
    assert w.project.config.predict.min_confidence == threshold  # written to the project (predict.min_confidence)
    wait_idle(w)
    assert api.UNCERTAIN in page.view_a.label.text() and "keeps" in control.status.text()
    # batch: exactly the rows below the threshold are marked, in the table and in the saved file
    texts = [r["text"] for r in make_rows(4, seed=5)]
    path = tmp_path / "notes.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        wr = csv.writer(fh)
        wr.writerow(["id", "text"])
        wr.writerows([[i, t] for i, t in enumerate(texts)])
    page.predict_file(str(path))
    wait_idle(w)
    t = page.batch_table
    headers = [t.horizontalHeaderItem(j).text() for j in range(t.columnCount())]
    assert headers == ["Text", "Label", "Confidence", "Review"]
    expected = [p.confidence < threshold for p in api.load_predictor(calibrated_model).predict(texts)]
    assert [t.item(i, 3).text() == api.UNCERTAIN for i in range(t.rowCount())] == expected and any(expected)
    assert f"{sum(expected)} marked" in page.batch_status.text()
    saved = tmp_path / "saved.csv"
    page.write_results(str(saved))
    rows = list(csv.DictReader(open(saved, encoding="utf-8")))
    assert [r["pred_uncertain"] == "True" for r in rows] == expected
    # off again: no Review column, nothing marked
    control.spin.setValue(0.0)
    wait_idle(w)
    assert page.batch_table.columnCount() == 3 and api.UNCERTAIN not in page.view_a.label.text()
    wait_idle(w)


def fresh_temperature(folder) -> float:
    return json.loads((folder / "ntmm.json").read_text())["temperature"]


def _calibration(seed: int, scale: float):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(60, 3))
    y = z.argmax(axis=1)
    y[:15] = (y[:15] + 1) % 3  # a quarter wrong
    return calibrate({"validation": (scale * z, y), "test": (scale * z, y)})


def test_optimize_and_benchmark_pages_show_calibration_and_agreement(make_window, tiny_project, qtbot, wait_idle):
    truth = [0, 0, 1, 1, 2, 2, 0, 1]
    teacher = [0, 0, 1, 1, 2, 2, 0, 2]
    student = [0, 0, 1, 2, 2, 2, 0, 2]
    texts = [f"text {i}" for i in range(8)]
    m = classification_metrics(truth, student, LABELS, intervals=True)

    def parity(name, preds, scale):
        return api.VariantParity(name, metrics=m, macro_f1=m["macro_f1"], agreement=1.0, calibration=_calibration(1, scale),
                                 agreement_matrix=agreement_matrix(student, preds, 3),
                                 changed=changed_examples(student, preds, truth, texts, LABELS),
                                 changed_count=sum(a != b for a, b in zip(student, preds)),
                                 teacher_agreement_matrix=agreement_matrix(teacher, preds, 3),
                                 teacher_changed=changed_examples(teacher, preds, truth, texts, LABELS,
                                                                  keys=("teacher_label", "variant_label")))

    int8 = [0, 1, 1, 2, 2, 2, 0, 2]
    result = api.OptimizeResult(reference=parity("student_fp32", student, 3.0),
                                variants={"onnx": parity("onnx", student, 3.0), "onnx_int8": parity("onnx_int8", int8, 4.0)})

    def fake_optimize(config, on_event=None, cancel=None):
        return result

    w = make_window(tiny_project)
    page = w.page("optimize")
    w.go_to(3)
    with qtbot.waitSignal(w.runner.finished, timeout=5000):
        w.runner.start("optimize", fake_optimize, None)
    cal = page.calibration
    assert cal.model_combo.currentText() == "student_onnx_int8"  # the smallest variant's diagram first
    assert [cal.model_combo.itemText(i) for i in range(cal.model_combo.count())] == ["student_fp32", "student_onnx",
                                                                                      "student_onnx_int8"]
    c = result.variants["onnx_int8"].calibration
    assert cal.table.rowCount() == 6 and cal.table.item(5, 3).text() == f"{c.scores('test', False).ece:.4f} → {c.scores('test').ece:.4f}"
    assert cal.chart.shown["calibrated"] == c.scores("test").reliability and "raw" in cal.chart.shown
    cal.raw_check.setChecked(False)
    assert "raw" not in cal.chart.shown
    # the table of variants shows ECE before and after
    headers = [page.results.table.horizontalHeaderItem(j).text() for j in range(page.results.table.columnCount())]
    j = headers.index("ECE after")
    assert page.results.table.item(2, j).text() == f"{c.scores('test').ece:.3f}"
    # agreement: rows the teacher's labels, a click lists the texts of a cell
    ag = page.agreement
    titles = [ag.combo.itemText(i) for i in range(ag.combo.count())]
    assert titles[:3] == ["student_fp32 vs the teacher", "student_onnx vs the teacher", "student_onnx_int8 vs the teacher"]
    assert "student_onnx_int8 vs the fp32 student" in titles
    ag.combo.setCurrentText("student_onnx_int8 vs the teacher")
    assert ag.matrix.item(0, 1).text() == "1" and ag.matrix.item(2, 2).text() == "3"
    assert ag.changed.rowCount() == 2 and "gives the teacher's label to 6 of 8" in ag.summary.text()
    ag.matrix.cellClicked.emit(0, 1)  # teacher cardio -> variant gastro
    assert ag.changed.rowCount() == 1 and ag.changed.item(0, 0).text() == "text 1"
    assert "from cardio to gastro: 1" in ag.changed_title.text()

    rows = [api.VariantBenchmark("student_onnx_int8", kind="onnx", macro_f1=0.8, latency_ms_median=2.0,
                                 calibration=_calibration(2, 2.0))]
    bench = api.BenchmarkResult(rows=rows)
    w.go_to(4)
    with qtbot.waitSignal(w.runner.finished, timeout=5000):
        w.runner.start("benchmark", lambda config, on_event=None, cancel=None: bench, None)
    bcal = w.page("benchmark").calibration
    assert bcal.model_combo.currentText() == "student_onnx_int8" and bcal.table.rowCount() == 2
    wait_idle(w)


def test_distill_page_agreement_matrix(make_window, tiny_project, qtbot, wait_idle):
    truth, teacher, student = [0, 1, 2, 2], [0, 1, 2, 1], [0, 2, 2, 1]
    tm = classification_metrics(truth, teacher, LABELS, intervals=True)
    result = api.DistillResult(status="completed", run_dir="runs", teacher_metrics={"test": tm},
                               student=api.TrainResult(job="distill", status="completed", run_dir="runs",
                                                       metrics={"test": classification_metrics(truth, student, LABELS)}),
                               agreement_matrix={"student": {"test": agreement_matrix(teacher, student, 3)}},
                               changed={"student": changed_examples(teacher, student, truth, ["a", "b", "c", "d"], LABELS,
                                                                    keys=("teacher_label", "model_label"))})
    w = make_window(tiny_project)
    page = w.page("distill")
    w.go_to(2)
    with qtbot.waitSignal(w.runner.finished, timeout=5000):
        w.runner.start("distill", lambda config, on_event=None, cancel=None: result, None)
    ag = page.agreement
    assert ag.combo.currentText() == "student_fp32 vs the teacher" and ag.matrix.rowCount() == 3
    assert ag.matrix.item(1, 2).text() == "1" and ag.changed.rowCount() == 1 and ag.changed.item(0, 0).text() == "b"
    assert "3 of 4" in ag.summary.text()
    wait_idle(w)
