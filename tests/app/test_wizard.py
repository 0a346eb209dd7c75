"""The whole wizard on a tiny model: Run all remaining -> Predict shows probabilities."""

from __future__ import annotations

from PySide6.QtCore import Qt

from ntmm_engine.api import STAGES


def test_full_wizard_on_a_tiny_model(make_window, tiny_config, tmp_path, qtbot, wait_idle, dialogs):
    # As small as the pipeline allows: one epoch each, one optimize variant, in-process benchmark.
    c = tiny_config
    c.teacher.epochs = c.distill.epochs = 1
    c.teacher.early_stopping_patience = c.distill.early_stopping_patience = 0
    c.distill.baseline = False
    c.optimize.variants = ["onnx_int8"]
    c.benchmark.isolate = False
    c.benchmark.num_samples, c.benchmark.warmup, c.benchmark.throughput_batch_size = 3, 0, 8
    c.benchmark.rounds, c.benchmark.time_budget_s = 2, 0.0
    c.save(tmp_path / "wizard.yaml")
    w = make_window(tmp_path / "wizard.yaml")
    wait_idle(w)
    with qtbot.waitSignal(w.runner.queue_done, timeout=600000) as sig:
        qtbot.mouseClick(w.run_all_button, Qt.MouseButton.LeftButton)
    assert sig.args == [True], dialogs.errors
    assert dialogs.errors == []
    for stage in STAGES:
        assert w.project.stage_status(stage) == "completed", stage
    assert w.current_page.key == "predict"
    assert w.page("distill").comparison.rowCount() >= 2
    assert w.page("optimize").results.table.rowCount() >= 1
    assert w.page("benchmark").results.table.rowCount() >= 2

    page = w.page("predict")
    wait_idle(w, timeout=120000)
    assert page.slot_a.predictor is not None, page.slot_a.status.text()
    qtbot.keyClicks(page.text, "patient reports chest pressure and heart artery pain")
    wait_idle(w, timeout=60000)
    assert len(page.view_a.bars) == 3
    total = sum(bar.value() for _lab, bar in page.view_a.bars.values())
    assert 990 <= total <= 1010  # probabilities (in 0.1 %) add up to 100 %
    assert page.view_a.label.text() not in ("", "–")
