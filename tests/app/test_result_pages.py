"""Distill / Optimize / Benchmark / Predict pages fed real engine result objects (fake jobs, fake model)."""

from __future__ import annotations

import csv
import json

from PySide6.QtCore import Qt

from fakes import FakePredictor

from ntmm_engine.api import BenchmarkResult, DistillResult, OptimizeResult, TrainResult, VariantBenchmark, VariantParity
from ntmm_engine.core.runfolder import RunFolder, atomic_write_json
from ntmm_engine.reports.compare import baseline_check
from ntmm_engine.reports.intervals import paired_difference
from ntmm_engine.reports.metrics import classification_metrics

LABELS = ["cardio", "neuro", "gastro"]
TRUTH = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]


def predictions(wrong: int) -> list[int]:
    preds = list(TRUTH)
    for i in range(wrong):
        preds[i * 5 % 12] = (TRUTH[i * 5 % 12] + 1) % 3
    return preds


def metrics(wrong: int) -> dict:
    """The engine's own metrics (with intervals) for predictions with ``wrong`` mistakes on 12 test texts."""
    return classification_metrics(TRUTH, predictions(wrong), LABELS, intervals=True)


def distill_result() -> DistillResult:
    """The classical baseline makes no mistake, the student two: the student is not clearly better than it."""
    check = baseline_check("student", TRUTH, predictions(2), predictions(0), 3)
    return DistillResult(status="completed", run_dir="runs", teacher_metrics={"validation": metrics(1), "test": metrics(1)},
                         student=TrainResult(job="distill", status="completed", run_dir="runs", metrics={"test": metrics(2)}),
                         baseline=TrainResult(job="baseline", status="completed", run_dir="runs", metrics={"test": metrics(3)}),
                         parameters={"teacher": 22_000_000, "student": 4_000_000},
                         agreement={"student": {"test": 0.95}, "baseline": {"test": 0.9}},
                         classical_metrics={"test": metrics(0)}, checks={"student": check},
                         differences={"student - baseline": paired_difference(TRUTH, predictions(2), predictions(3), 3)})


BENCH_ROWS = [
    VariantBenchmark("teacher_fp32", kind="pytorch", macro_f1=0.91, agreement=1.0, latency_ms_median=12.0, latency_ms_p95=15.0,
                     throughput_per_s=90.0, size_bytes=87_000_000, speedup_vs_teacher=1.0, compression_vs_teacher=1.0),
    VariantBenchmark("student_onnx_int8", kind="onnx", macro_f1=0.89, agreement=0.95, latency_ms_median=2.0,
                     latency_ms_p95=2.6, throughput_per_s=700.0, size_bytes=8_000_000, speedup_vs_teacher=6.0,
                     compression_vs_teacher=10.9),
    VariantBenchmark("student_torch_int8", status="failed", message="no quantized engine"),
]


def test_distill_page_shows_comparison(make_window, tiny_project, qtbot, wait_idle):
    w = make_window(tiny_project)
    page = w.page("distill")
    result = distill_result()
    teacher_f1, student_f1 = result.teacher_metrics["test"]["macro_f1"], result.student.metrics["test"]["macro_f1"]

    def fake_distill(config, on_event=None, cancel=None):
        from ntmm_engine.core.events import TrainLog
        for job in ("distill", "baseline"):
            on_event(TrainLog(job, step=1, max_steps=2, loss=1.0, extra={"loss_kl": 0.4, "loss_ce": 0.6}))
        return result

    w.go_to(2)
    with qtbot.waitSignal(w.runner.finished, timeout=5000):
        w.runner.start("distill", fake_distill, None)
    t = page.comparison
    assert t.rowCount() == 4
    assert [t.item(i, 0).text() for i in range(4)] == ["classical_tfidf", "teacher_fp32", "student_fp32", "baseline_fp32"]
    ci = result.student.metrics["test"]["macro_f1_ci"]
    assert t.item(2, 2).text() == f"{student_f1:.3f} ({ci[0]:.3f}–{ci[1]:.3f})"  # every score with its interval
    assert t.item(2, 3).text() == f"{student_f1 - teacher_f1:+.4f}" and student_f1 < teacher_f1
    assert t.item(2, 4).text() == "95.00%"
    assert t.item(1, 5).text() == "22,000,000" and t.item(3, 5).text() == "4,000,000"
    assert page.live.tabs.currentWidget() is page.comparison_tab
    assert "student - baseline" in page.comparison_note.text()
    assert page.f1_chart.categories[0] == "classical_tfidf" and page.f1_chart.intervals["macro-F1"][2] == ci
    # not clearly better than the classical baseline: the banner says so, with what to try
    assert page.warnings.isVisible() and "not clearly better than" in page.warnings.text()
    assert "train longer" in page.warnings.text()
    page.live.flush()
    assert set(page.live.components_plot.series) == {"loss_kl", "loss_ce"}
    wait_idle(w)


def test_optimize_page_progress_results_and_flags(make_window, tiny_project, qtbot, wait_idle, dialogs, tmp_path):
    from ntmm_engine.core.events import JobFinished, Progress

    w = make_window(tiny_project)
    page = w.page("optimize")
    assert "distill" in page.needs().lower()
    # variant check boxes write optimize.variants
    page.checks["torch_int8"].setChecked(False)
    assert w.project.config.optimize.variants == ["onnx", "onnx_int8", "onnx_int8_pruned", "static"]
    page.checks["onnx_int8_pruned"].setChecked(False)
    page.checks["static"].setChecked(False)
    assert w.project.config.optimize.variants == ["onnx", "onnx_int8"]

    def fake_optimize(config, on_event=None, cancel=None):
        on_event(Progress("optimize", phase="onnx: exporting", done=1, total=2))
        on_event(Progress("optimize", phase="onnx_int8: quantizing", done=1, total=2))
        on_event(JobFinished("optimize", status="completed"))
        return OptimizeResult(
            reference=VariantParity("student_fp32", size_bytes=16_500_000, accuracy=0.86, macro_f1=0.85, agreement=1.0),
            variants={"onnx": VariantParity("onnx", size_bytes=16_000_000, agreement=1.0, macro_f1=0.85),
                      "onnx_int8": VariantParity("onnx_int8", status="flagged", size_bytes=4_000_000, agreement=0.9,
                                                 macro_f1=0.8, flagged=True)},
            flagged=["onnx_int8"], agreement_threshold=0.99)

    w.go_to(3)
    with qtbot.waitSignal(w.runner.finished, timeout=5000):
        w.runner.start("optimize", fake_optimize, None)
    assert page.progress.isVisible() and list(page.progress.rows) == ["onnx", "onnx_int8"]
    assert page.progress.table.item(1, 2).text() == "done"
    # named as on the Benchmark and Predict steps (issue 18), while the job's events use the short names
    assert [page.progress.table.item(i, 0).text() for i in range(2)] == ["student_onnx", "student_onnx_int8"]
    t = page.results.table
    assert t.rowCount() == 3
    names = [t.item(i, 0).text() for i in range(3)]
    assert names == ["student_fp32 (reference)", "student_onnx", "student_onnx_int8"]
    assert "low agreement" in t.item(2, t.columnCount() - 1).text()
    assert t.item(2, 0).background().color().name() == "#ffe0b2"
    assert t.item(2, 7).text() == "4.00"  # size in MB from size_bytes
    assert t.isColumnHidden(3)  # no latency in optimize results
    assert page.results.size_chart.categories == names
    assert "onnx_int8" in page.results.note.text()
    # no Markdown report from the optimize step: the table is exported
    assert page.results.export_button.isEnabled()
    out = tmp_path / "optimize.md"
    dialogs.save_paths.append(str(out))
    page.results.export_report()
    text = out.read_text()
    assert "| student_onnx_int8 |" in text and "low agreement" in text and "4.00" in text
    wait_idle(w)


def test_benchmark_page_reads_run_folder_and_exports(make_window, tiny_config, tmp_path, dialogs, wait_idle):
    run = tiny_config.run_path
    (run / "teacher" / "model").mkdir(parents=True)
    (run / "teacher" / "model" / "config.json").write_text("{}")
    (run / "optimize" / "student_onnx_int8").mkdir(parents=True)
    (run / "optimize" / "student_onnx_int8" / "model.onnx").write_bytes(b"x")
    # what the optimize and benchmark jobs write: their result.json and a completed stage in the manifest
    folder = RunFolder(run)
    atomic_write_json(run / "optimize" / "result.json", OptimizeResult(
        flagged=["onnx_int8"], variants={"onnx_int8": VariantParity("onnx_int8", status="flagged", flagged=True)}).to_dict())
    folder.update_stage("optimize", status="completed")
    atomic_write_json(run / "benchmark" / "result.json", BenchmarkResult(rows=BENCH_ROWS).to_dict())
    (run / "benchmark" / "benchmark.md").write_text("# Benchmark\n| variant |\n")
    folder.update_stage("benchmark", status="completed")
    tiny_config.save(tmp_path / "p.yaml")
    w = make_window(tmp_path / "p.yaml")
    page = w.page("benchmark")
    assert page.needs() == ""
    assert list(page.checks) == ["teacher_fp32", "student_onnx_int8"] and page.all_check.isChecked()
    t = page.results.table
    assert t.rowCount() == 3
    column = {t.horizontalHeaderItem(j).text(): j for j in range(t.columnCount())}
    assert not t.isColumnHidden(column["p50 ms"]) and not t.isColumnHidden(column["Speed-up vs teacher"])  # shown
    assert page.results.latency_chart.series["p50"] == [12.0, 2.0]  # the failed row is left out
    assert "failed: no quantized engine" in t.item(2, t.columnCount() - 1).text()
    assert "low agreement" in t.item(1, t.columnCount() - 1).text()  # flagged by the optimize step
    assert page.results.export_button.isEnabled()
    out = tmp_path / "exported.md"
    dialogs.save_paths.append(str(out))
    page.results.export_report()
    assert out.read_text().startswith("# Benchmark")
    # choosing models explicitly writes benchmark.variants
    page.all_check.setChecked(False)
    page.checks["teacher_fp32"].setChecked(True)
    assert w.project.config.benchmark.variants == ["teacher_fp32"]
    wait_idle(w)


def _benchmarked_run(tiny_config, tmp_path, *, reliable: bool = True):
    """A run folder with three models and a finished benchmark of them (as the jobs would leave it)."""
    run = tiny_config.run_path
    for rel, name in (("teacher/model", "config.json"), ("optimize/student_onnx_int8", "model.onnx"),
                      ("optimize/student_static", "model.onnx")):
        (run / rel).mkdir(parents=True, exist_ok=True)
        (run / rel / name).write_text("{}")
    rows = [VariantBenchmark("teacher_fp32", macro_f1=0.91, macro_f1_ci=[0.85, 0.95], latency_ms_median=12.0, size_bytes=87_000_000),
            VariantBenchmark("student_onnx_int8", macro_f1=0.89, macro_f1_ci=[0.83, 0.94], latency_ms_median=2.0, size_bytes=8_000_000),
            VariantBenchmark("student_static", macro_f1=0.80, macro_f1_ci=[0.72, 0.86], latency_ms_median=0.05, size_bytes=3_000_000)]
    reason = "" if reliable else "timings unreliable: the CPU was busy (load 4.2 on 2 cores); close other programs and run again"
    cpu = {} if reliable else {"summary": "x86_64: AVX2; no VNNI", "warning": "dynamic INT8 is known to give little speed-up here"}
    atomic_write_json(run / "benchmark" / "result.json",
                      BenchmarkResult(rows=rows, reliable=reliable, unreliable_reason=reason, cpu=cpu).to_dict())
    RunFolder(run).update_stage("benchmark", status="completed")
    tiny_config.save(tmp_path / "p.yaml")
    return tmp_path / "p.yaml"


def test_benchmark_page_recommends_under_the_budget(make_window, tiny_config, tmp_path, qtbot, monkeypatch, wait_idle):
    from ntmm_app.pages import predict_page

    monkeypatch.setattr(predict_page.api, "load_predictor", lambda path: FakePredictor())
    w = make_window(_benchmarked_run(tiny_config, tmp_path))
    page = w.page("benchmark")
    # no budget: the most accurate; the frontier chart has every timed variant, the recommended ringed
    assert page.recommended[0] == "teacher_fp32" and "Recommended: teacher_fp32" in page.recommend_label.text()
    chart = page.results.pareto
    assert [p.name for p in chart.points] == ["teacher_fp32", "student_onnx_int8", "student_static"]
    assert chart.front == ["student_static", "student_onnx_int8", "teacher_fp32"] and chart.recommended == "teacher_fp32"
    # the job's own "Recommended: …" line (under the progress table) would go stale once the budget changes
    from ntmm_engine.core.events import LogMessage
    page.progress.set_variants(["teacher_fp32"])
    page.progress.handle_event(LogMessage("benchmark", text="Recommended: teacher_fp32 (the most accurate)"))
    page.show_run_folder()
    assert page.progress.general.isHidden()
    # typing a latency budget re-picks at once from the finished benchmark, with no new measurement
    editor = page.form.editors["budget_max_latency_ms"].input
    editor.clear()
    qtbot.keyClicks(editor, "5")
    assert w.project.config.benchmark.budget_max_latency_ms == 5.0
    assert page.recommended[0] == "student_onnx_int8" and chart.recommended == "student_onnx_int8"
    t = page.results.table
    row = next(i for i in range(t.rowCount()) if t.item(i, 0).text() == "student_onnx_int8")
    assert "recommended" in t.item(row, t.columnCount() - 1).text()
    editor.clear()
    qtbot.keyClicks(editor, "0.01")  # nothing qualifies: the fastest, said so
    assert page.recommended[0] == "student_static" and "Nothing fits the budget" in page.recommend_label.text()
    # Use in Predict opens it there
    qtbot.mouseClick(page.use_button, Qt.MouseButton.LeftButton)
    wait_idle(w)
    predict = w.page("predict")
    assert w.current_page is predict and predict.slot_a.path.endswith("student_static")
    assert "★ recommended" in predict.slot_a.combo.currentText()


def test_benchmark_page_flags_unreliable_timings(make_window, tiny_config, tmp_path, wait_idle):
    w = make_window(_benchmarked_run(tiny_config, tmp_path, reliable=False))
    page = w.page("benchmark")
    w.go_to(w.pages.index(page))
    assert page.unreliable.isVisible() and "load 4.2 on 2 cores" in page.unreliable.text()
    assert "little speed-up" in page.unreliable.text()  # the CPU's INT8 warning
    assert page.recommended is None and not page.use_button.isEnabled() and "No recommendation" in page.recommend_label.text()
    assert "unreliable" in page.results.pareto.plot.full_title()  # elided to the width; whole in the tooltip
    latency = page.results.latency_chart.plot  # the title is elided to the plot's width: the whole one is in its tooltip
    assert "unreliable" in latency.full_title() and "#d62728" in latency.plotItem.titleLabel.text + str(latency.plotItem.titleLabel.opts)
    assert "unreliable" in page.results.note.text()
    assert w.project.state().default_model()[0] != ""  # Predict still opens a model: the fastest one optimize did not flag
    wait_idle(w)


def test_predict_page_typed_text_batch_and_compare(make_window, tiny_project, qtbot, monkeypatch, tmp_path, wait_idle):
    from ntmm_app.pages import predict_page

    monkeypatch.setattr(predict_page.api, "load_predictor", lambda path: FakePredictor())
    w = make_window(tiny_project)
    page = w.page("predict")
    w.go_to(5)
    page.slot_a.add_and_load(str(tmp_path))
    wait_idle(w)
    assert page.slot_a.predictor is not None and "3 classes" in page.slot_a.status.text()

    qtbot.keyClicks(page.text, "pain in the heart")
    assert page.pending_work()  # debounced, not predicted per keystroke
    wait_idle(w)
    assert page.view_a.label.text().startswith("cardio")
    assert page.view_a.bars["cardio"][1].value() == 800
    assert page.view_a.bars["neuro"][1].format() == "15.0%"
    assert not page.view_a.bars["cardio"][0].is_elided()  # the predicted class, in bold, keeps its whole name

    page.compare.setChecked(True)
    page.slot_b.add_and_load(str(tmp_path / "other"))
    wait_idle(w)
    assert page.view_b.isVisible() and page.view_b.label.text().startswith("cardio")

    texts = tmp_path / "texts.csv"
    with open(texts, "w", newline="", encoding="utf-8") as fh:
        wr = csv.writer(fh)
        wr.writerow(["id", "text"])
        wr.writerows([[1, "the heart is fine"], [2, "headache since monday"], [3, "heart murmur"]])
    page.predict_file(str(texts))
    wait_idle(w)
    t = page.batch_table
    assert t.rowCount() == 3 and t.columnCount() == 6  # text, label/conf x2, agree
    assert page.batch_progress.value() == page.batch_progress.maximum()
    assert "agree on 100.0%" in page.batch_status.text()
    out = tmp_path / "pred.csv"
    page.write_results(str(out))
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert list(rows[0])[:4] == ["id", "text", "pred_label", "pred_score"]  # the file's columns first, as ntmm predict
    assert [r["pred_label"] for r in rows] == ["cardio", "neuro", "cardio"] and [r["id"] for r in rows] == ["1", "2", "3"]
    assert float(rows[0]["p_cardio"]) == 0.8 and rows[0]["pred_label_2"] == "cardio"  # the second model's columns
    # the detected text column is shown, and another one can be chosen (as `ntmm predict --column`)
    combo = page.column_combo
    assert combo.isEnabled() and [combo.itemText(i) for i in range(combo.count())] == ["id", "text"]
    assert combo.currentText() == "text"
    combo.setCurrentIndex(0)
    combo.activated.emit(0)
    wait_idle(w)
    assert page.batch_texts == ["1", "2", "3"] and "(column id)" in page.batch_status.text()


def test_run_all_starts_with_the_data_check(make_window, tiny_project, dialogs, wait_idle):
    w = make_window(tiny_project)
    assert w.run_all()
    assert w.runner.busy and w.runner.current == "data"  # the data are checked before any stage starts
    assert w.runner.pending == ["classical", "teacher", "distill", "optimize", "benchmark"]
    w.runner.cancel()
    w.runner.wait(60000)
    wait_idle(w)


def test_distill_student_picker(make_window, tiny_project, tiny_bert_dir, wait_idle):
    w = make_window(tiny_project)
    page = w.page("distill")
    sp = page.student
    cfg = w.project.config.distill
    sp.indices.setText("0, 1")
    sp.indices.textEdited.emit("0, 1")
    assert cfg.layer_indices == [0, 1] and cfg.num_layers == 2
    sp.indices.textEdited.emit("0, x")
    assert sp.has_error and page.form_errors()[-1][0] == "distill.layer_indices"
    sp.indices.textEdited.emit("")
    assert not sp.has_error and cfg.layer_indices == []

    sp.radios["fresh"].click()
    assert cfg.student == "fresh" and sp.stack.currentWidget() is sp.fresh_form
    assert sp.fresh_form.advanced is None  # the fresh-model fields are shown, not collapsed
    sp.radios["checkpoint"].click()
    assert cfg.student == "fresh"  # a checkpoint name is needed first
    sp.checkpoint.edit.setText(str(tiny_bert_dir))
    sp.checkpoint.edit.editingFinished.emit()
    assert cfg.student == "checkpoint" and cfg.student_checkpoint == str(tiny_bert_dir)

    # naming a teacher folder meets the "needs a teacher" requirement
    assert "teacher" in page.needs().lower()
    sp.teacher.edit.setText(str(tiny_bert_dir))
    sp.teacher.edit.editingFinished.emit()
    assert page.needs() == ""
    assert "2 layers" in sp.teacher_info.text()
    wait_idle(w)


def test_predict_page_saves_every_column_scores_gold_labels_and_reads_sheets(make_window, tiny_project, monkeypatch,
                                                                             tmp_path, dialogs, wait_idle):
    import pandas as pd

    from ntmm_app.pages import predict_page

    monkeypatch.setattr(predict_page.api, "load_predictor", lambda path: FakePredictor())
    w = make_window(tiny_project)
    page = w.page("predict")
    w.go_to(5)
    page.slot_a.add_and_load(str(tmp_path))
    wait_idle(w)
    book = tmp_path / "notes.xlsx"
    rows = [{"index": "007", "label": "cardio", "text": "the heart is fine"},
            {"index": "008", "label": "cardio", "text": "headache since monday"},
            {"index": "009", "label": "", "text": ""},  # no text: kept in the output, no prediction
            {"index": "010", "label": "neuro", "text": "migraine and aura"}]
    with pd.ExcelWriter(book, engine="openpyxl") as xw:
        pd.DataFrame({"n": [1]}).to_excel(xw, sheet_name="Summary", index=False)
        pd.DataFrame(rows).to_excel(xw, sheet_name="Notes", index=False)
    page.tabs.setCurrentIndex(1)
    assert not page.sheet_combo.isVisible()  # shown only for workbooks of several sheets
    page.predict_file(str(book))
    wait_idle(w)
    assert page.sheet_combo.isVisible() and page.sheet_combo.currentText() == "Summary"  # the first sheet
    assert "Sheet 'Summary'" in page.batch_status.text() and "no column holds free text" in page.batch_status.text()
    assert not dialogs.errors and page.batch_texts == []
    page.sheet_combo.setCurrentIndex(1)
    page.sheet_combo.activated.emit(1)
    wait_idle(w)
    assert page.batch_texts == ["the heart is fine", "headache since monday", "migraine and aura"]
    status = page.batch_status.text()
    assert "Against column 'label' (3 rows): accuracy 66.7%" in status and "sheet 'Notes'" in status
    out = tmp_path / "out"  # no suffix: the chosen filter's is added
    dialogs.save_paths.append(str(out))
    monkeypatch.setattr(predict_page.QFileDialog, "getSaveFileName", staticmethod(
        lambda *a, **k: (dialogs.save_paths.pop(0), "Excel (*.xlsx)")))
    page.save_batch()
    saved = pd.read_excel(tmp_path / "out.xlsx", dtype=str, keep_default_na=False)
    assert list(saved.columns) == ["index", "label", "text", "pred_label", "pred_score", "p_cardio", "p_neuro", "p_gastro"]
    assert saved["index"].tolist() == ["007", "008", "009", "010"] and saved["label"].tolist() == ["cardio", "cardio", "", "neuro"]
    assert saved["pred_label"].tolist() == ["cardio", "neuro", "", "neuro"]
    assert "Saved 4 rows with predictions to" in page.batch_status.text() and str(tmp_path / "out.xlsx") in page.batch_status.text()
    assert w.settings.last_folder("predictions") == str(tmp_path)
    opened = []
    from ntmm_app import desktop
    monkeypatch.setattr(desktop, "open_url", lambda url: opened.append(url.toLocalFile()) or True)
    assert page.show_saved_button.isVisible()
    page.show_saved_button.click()
    assert opened == [str(tmp_path)]  # the folder of the file just saved
    wait_idle(w)


def test_predict_page_exports_a_bundle_in_the_background(make_window, tiny_project, monkeypatch, tmp_path, dialogs,
                                                         wait_idle):
    from ntmm_app.pages import predict_page
    from ntmm_engine.core.errors import ModelError

    monkeypatch.setattr(predict_page.api, "load_predictor", lambda path: FakePredictor())
    calls = []

    def fake_export(model, out):
        calls.append((model, out))
        if "bad" in model:
            raise ModelError(f"{model} is a PyTorch INT8 model, which has no ONNX form with the same predictions.")
        return predict_page.api.BundleResult(folder=out, source=model, variant="onnx_int8", labels=["a", "b"])

    monkeypatch.setattr(predict_page.api, "export_bundle", fake_export)
    target = tmp_path / "bundle"
    target.mkdir()
    monkeypatch.setattr(predict_page.QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(target)))
    w = make_window(tiny_project)
    page = w.page("predict")
    w.go_to(5)
    assert not page.export_button.isEnabled()  # no model yet
    page.slot_a.add_and_load(str(tmp_path / "model"))
    wait_idle(w)
    assert page.export_button.isEnabled() and "bun&dle" in page.export_button.text()
    page.export_button.click()
    wait_idle(w)
    assert calls == [(str(tmp_path / "model"), str(target))]
    assert page.slot_a.status.text() == f"Bundle written to {target}" and page.export_button.isEnabled()
    (target / "notes.txt").write_text("not a bundle")  # a busy folder: the bundle goes into a subfolder
    page.slot_a.add_and_load(str(tmp_path / "bad"))
    wait_idle(w)
    page.export_button.click()
    wait_idle(w)
    assert calls[-1] == (str(tmp_path / "bad"), str(target / "bad-bundle"))
    assert dialogs.errors[-1][0] == "Cannot export the bundle" and "PyTorch INT8" in dialogs.errors[-1][1]
    assert "traceback" not in dialogs.errors[-1][2].lower()


def test_distill_page_shows_the_unlabelled_texts(make_window, tiny_project, qtbot, wait_idle):
    """With unlabelled texts: their count and label distribution in the results, the two loss parts in the curves."""
    from ntmm_engine.api import UnlabelledUse
    from ntmm_engine.core.events import TrainLog

    w = make_window(tiny_project)
    page = w.page("distill")
    assert "No unlabelled texts" in page.unlabelled_info.text()
    w.project.set("data.unlabelled", ["notes.csv"])
    assert "notes.csv" in page.unlabelled_info.text()
    assert "unlabelled_weight" in page.distill_form.editors and "unlabelled_min_confidence" in page.distill_form.editors
    result = distill_result()
    result.unlabelled = UnlabelledUse(texts=1200, confident=1100, min_confidence=0.5, per_epoch=1100, labelled=300, weight=1.0,
                                      teacher_distribution={"cardio": 0.7, "neuro": 0.2, "gastro": 0.1},
                                      train_distribution={"cardio": 0.34, "neuro": 0.33, "gastro": 0.33}, shift=0.36,
                                      warning="The teacher's labels on the unlabelled texts are distributed far from the training labels")

    def fake_distill(config, on_event=None, cancel=None):
        for step in (1, 2, 3):
            on_event(TrainLog("distill", step=step, max_steps=3, loss=1.0 / step,
                              extra={"loss_kl": 0.4, "loss_ce": 0.6, "loss_cos": 0.1, "loss_mse": 0.2, "loss_kl_unlabelled": 0.3,
                                     "loss_cos_unlabelled": 0.1, "loss_mse_unlabelled": 0.15, "loss_labelled": 0.8 / step,
                                     "loss_unlabelled": 0.5 / step}))
        return result

    w.go_to(2)
    with qtbot.waitSignal(w.runner.finished, timeout=5000):
        w.runner.start("distill", fake_distill, None)
    page.live.flush()
    loss_series = set(page.live.loss_plot.series)
    assert {"distill:loss_labelled", "distill:loss_unlabelled", "distill:train"} <= loss_series
    parts = page.live.components_plot.series
    assert {"loss_kl", "loss_kl_unlabelled", "loss_ce"} <= set(parts) and "loss_labelled" not in parts
    assert parts["loss_kl_unlabelled"][1].opts["pen"].style() != parts["loss_kl"][1].opts["pen"].style()  # dashed
    assert page.comparison.item(2, 0).text() == "student_fp32 (+1100 unlabelled texts)"
    assert "Unlabelled texts: 1200 used" in page.comparison_note.text()
    assert page.shift_chart.isVisible() and page.shift_chart.categories == ["cardio", "neuro", "gastro"]
    assert page.shift_chart.series["teacher, unlabelled"] == [0.7, 0.2, 0.1]
    assert "distributed far from the training labels" in page.warnings.text()
    wait_idle(w)


def test_predict_names_models_by_variant_and_compares_the_teacher_with_the_recommended_one(
        make_window, tiny_config, tmp_path, monkeypatch, wait_idle):
    """Issue 18: headings and columns use the variant names, Compare starts with the teacher beside the
    first slot's model (never the same model twice), and the step list names the model now loaded."""
    from ntmm_app.pages import predict_page
    from ntmm_engine import api

    for name in (api.TEACHER, "student_onnx_int8"):
        folder = tiny_config.run_path / api.VARIANTS[name].folder
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
    tiny_config.save(tmp_path / "p.yaml")
    monkeypatch.setattr(predict_page.api, "load_predictor", lambda path: FakePredictor())
    w = make_window(tmp_path / "p.yaml")
    page = w.page("predict")
    w.go_to(w.pages.index(page))
    wait_idle(w)
    assert page.slot_a.display_name() == "student_onnx_int8"
    page.compare.setChecked(True)
    wait_idle(w)
    assert page.slot_b.display_name() == api.TEACHER  # not the same model on both sides
    page.text.setPlainText("pain in the heart")
    page.predict_now()
    assert page.view_a.title.text() == "student_onnx_int8" and page.view_b.title.text() == api.TEACHER
    texts = tmp_path / "texts.csv"
    texts.write_text("text\nthe heart is fine\nheadache\n", encoding="utf-8")
    page.predict_file(str(texts))
    wait_idle(w)
    headers = [page.batch_table.horizontalHeaderItem(i).text() for i in range(page.batch_table.columnCount())]
    assert "Label (student_onnx_int8)" in headers and f"Label ({api.TEACHER})" in headers
    assert not any("(model)" in h or "(second)" in h for h in headers)
    item = w.steps.item(w.pages.index(page))
    assert "student_onnx_int8" in item.text()
    page.slot_a.load(str(tiny_config.run_path / api.VARIANTS[api.TEACHER].folder))  # switching: the step list follows
    wait_idle(w)
    assert api.TEACHER in item.text() and "student_onnx_int8" not in item.text()


def test_benchmark_table_says_relative_to_what_and_keeps_the_variant_in_view(make_window, tiny_config, tmp_path, wait_idle):
    """Issue 18: ratios read "6.00x" under headers that name the reference, parameters and peak memory are in the
    window (not only in benchmark.md), and the Variant column stays in view when the table scrolls sideways."""
    path = _benchmarked_run(tiny_config, tmp_path)
    result_file = tiny_config.run_path / "benchmark" / "result.json"
    result = BenchmarkResult.from_dict(json.loads(result_file.read_text()))
    for r, params, rss in zip(result.rows, (22_700_000, 9_100_000, 800_000), (900_000_000, 310_000_000, 120_000_000)):
        r.parameters, r.peak_rss_bytes = params, rss
        r.speedup_vs_teacher = 12.0 / r.latency_ms_median
    atomic_write_json(result_file, result.to_dict())
    w = make_window(path)
    w.resize(1024, 700)
    page = w.page("benchmark")
    w.go_to(w.pages.index(page))
    wait_idle(w)
    t = page.results.table
    headers = {t.horizontalHeaderItem(j).text(): j for j in range(t.columnCount())}
    assert {"Speed-up vs teacher", "Agreement vs fp32 student", "Params M", "Peak RSS MB"} <= set(headers)
    row = next(i for i in range(t.rowCount()) if t.item(i, 0).text() == "student_onnx_int8")
    assert t.item(row, headers["Speed-up vs teacher"]).text() == "6.00x"
    assert t.item(row, headers["Params M"]).text() == "9.1" and t.item(row, headers["Peak RSS MB"]).text() == "310"
    assert not t.isColumnHidden(headers["Params M"]) and not t.isColumnHidden(headers["Peak RSS MB"])
    t.sortItems(headers["Speed-up vs teacher"], Qt.SortOrder.DescendingOrder)  # sorts by the number, not the text
    assert [t.item(i, 0).text() for i in range(t.rowCount())] == ["student_static", "student_onnx_int8", "teacher_fp32"]
    t.resize(420, t.height())  # narrower than the columns: it scrolls sideways
    t.horizontalScrollBar().setValue(t.horizontalScrollBar().maximum())
    assert t.horizontalScrollBar().maximum() > 0
    frozen = page.results.frozen
    assert frozen.isVisible() and frozen.x() <= t.frameWidth() + 1 and frozen.width() == t.columnWidth(0)
    shown = [frozen.model().index(i, 0).data() for i in range(frozen.model().rowCount())]
    assert shown == ["student_static", "student_onnx_int8", "teacher_fp32"]  # the same model, sorted with the table
    wait_idle(w)


def test_variant_progress_keeps_messages_about_the_job_out_of_a_variants_status_cell(qtbot):
    """A line that names variants on the way ("Benchmarking a, b on …", "Recommended: b …") is about the job:
    it shows under the table; a line that starts with a variant's name goes to that variant's cell."""
    from ntmm_app.widgets.results_view import VariantProgress
    from ntmm_engine.core.events import LogMessage

    view = VariantProgress()
    qtbot.addWidget(view)
    view.set_variants(["teacher_fp32", "student_onnx", "student_onnx_int8"])

    def status(name):
        return view.table.item(view.rows[name], 2).text()

    view.handle_event(LogMessage("benchmark", text="Benchmarking teacher_fp32, student_onnx, student_onnx_int8 on 50 test texts"))
    view.handle_event(LogMessage("benchmark", text="Recommended: student_onnx_int8 (the most accurate within budget)"))
    assert [status(n) for n in view.rows] == ["waiting"] * 3
    assert view.general.text().startswith("Recommended: student_onnx_int8")
    assert not view.general.isHidden()

    view.handle_event(LogMessage("benchmark", text="student_onnx_int8: 2.1 ms/sample at batch 1 (median of 5 rounds)"))
    assert status("student_onnx_int8").startswith("student_onnx_int8: 2.1 ms")
    assert status("student_onnx") == "waiting"  # the longer name wins, the prefix "student_onnx" does not
    view.set_variants(["teacher_fp32"])
    assert view.general.isHidden() and view.general.text() == ""
