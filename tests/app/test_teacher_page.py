"""Teacher page on a tiny model: live curves, cancel returns to ready, resume finishes."""

from __future__ import annotations

from PySide6.QtCore import Qt


def test_cancel_then_resume_a_tiny_teacher(make_window, tiny_config, tmp_path, qtbot, wait_idle, dialogs):
    # 1 epoch of 12 small steps: room to cancel in the middle, one (slow) epoch-end save
    tiny_config.teacher.epochs = 1
    tiny_config.teacher.batch_size = 4
    tiny_config.teacher.early_stopping_patience = 0
    path = tmp_path / "tiny.yaml"
    tiny_config.save(path)
    w = make_window(path)
    page = w.page("teacher")
    w.go_to(1)
    wait_idle(w)
    assert page.controls.start.isEnabled() and not page.controls.resume.isEnabled()

    qtbot.mouseClick(page.controls.start, Qt.MouseButton.LeftButton)
    assert w.runner.busy and page.running
    assert page.controls.cancel.isEnabled() and not page.controls.start.isEnabled()
    assert not w.page("distill").controls.start.isEnabled()  # one job at a time
    qtbot.waitUntil(lambda: "teacher:train" in page.live.loss_plot.series, timeout=60000)
    with qtbot.waitSignal(w.runner.cancelled, timeout=60000):
        qtbot.mouseClick(page.controls.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=10000)
    assert w.project.stage_status("teacher") == "cancelled"
    assert page.controls.start.isEnabled() and page.controls.resume.isEnabled()  # ready, resumable
    assert "cancelled" in w.steps.item(1).text()
    assert dialogs.errors == []

    with qtbot.waitSignal(w.runner.finished, timeout=120000) as sig:
        qtbot.mouseClick(page.controls.resume, Qt.MouseButton.LeftButton)
    result = sig.args[1]
    assert result.status == "completed" and result.steps_done == 12
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=10000)
    assert w.project.stage_status("teacher") == "completed"
    assert "resuming from" in page.live.log.toPlainText()
    assert page.live.metrics.per_class.rowCount() == 3
    assert "done" in w.steps.item(1).text()
    assert not page.controls.resume.isEnabled()
    # a changed recipe makes the finished teacher out of date (the engine pipeline's fingerprint)
    w.project.set("teacher.learning_rate", 1e-3)
    w.refresh_steps()
    assert "out of date" in w.steps.item(1).text()
    assert w.stage_plan["teacher"] == "run"
    # distillation becomes possible once the teacher exists
    assert w.page("distill").needs() == ""
    # the final metrics show beside the classical baseline's, with intervals
    summary = page.live.metrics.summary.text()
    assert "Classical baseline (TF-IDF + logistic regression)" in summary and "–" in summary
    wait_idle(w)


def test_plan_before_training_and_the_baseline_warning(make_window, tiny_project, qtbot, wait_idle):
    from ntmm_engine.api import TrainResult
    from ntmm_engine.reports.compare import baseline_check

    w = make_window(tiny_project)
    page = w.page("teacher")
    w.go_to(1)
    wait_idle(w, timeout=120000)
    # measured on this machine before anything trains: steps and time
    text = page.plan_label.text()
    assert text.startswith("Plan: about ") and "optimizer steps" in text and "on this machine" in text
    # a teacher that is not clearly better than the classical baseline: a banner says so and what to try
    truth, classical_preds, teacher_preds = [0, 1, 2] * 10, [0, 1, 2] * 10, [0, 1, 1] * 10
    result = TrainResult(job="teacher", status="completed", run_dir="runs",
                         baseline_check=baseline_check("teacher", truth, teacher_preds, classical_preds, 3))
    with qtbot.waitSignal(w.runner.finished, timeout=5000):
        w.runner.start("teacher", lambda config, on_event=None, cancel=None: result, None)
    assert page.warnings.isVisible() and "below the classical TF-IDF" in page.warnings.text()
    w.page("teacher").show_run_folder(force=True)  # a new look at the run folder (no teacher there) clears it
    assert not page.warnings.isVisible()
    wait_idle(w)
