"""Config forms (metadata -> widgets, inline validation) and the live training view."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QLineEdit, QSpinBox

from ntmm_engine.core.config import RecipeConfig
from ntmm_engine.core.events import CheckpointSaved, Evaluation, JobFinished, JobStarted, LogMessage, Progress, TrainLog, event_to_dict


@pytest.fixture
def project(tiny_project):
    from ntmm_app.project import Project
    p = Project()
    p.open(tiny_project)
    return p


def test_form_has_every_recipe_field_grouped_with_advanced_collapsed(qtbot, project):
    from ntmm_app.widgets.config_form import ConfigForm

    form = ConfigForm(project, "teacher", exclude=("base_model",))
    qtbot.addWidget(form)
    recipe = {f.name for f in dataclasses.fields(RecipeConfig)}
    assert recipe <= set(form.editors)
    assert isinstance(form.editor("lr_scheduler").input, QComboBox)
    assert isinstance(form.editor("batch_size").input, QSpinBox)
    assert isinstance(form.editor("trust_remote_code").input, QCheckBox)
    assert isinstance(form.editor("learning_rate").input, QLineEdit)
    assert "Peak learning rate" in form.editor("learning_rate").input.toolTip()
    assert form.advanced is not None and not form.advanced.isExpanded()
    adv = {n for n, f in ((f.name, f) for f in dataclasses.fields(RecipeConfig)) if f.metadata.get("advanced")}
    inner = form.advanced.content()
    assert adv and all(inner.isAncestorOf(form.editor(n)) for n in adv)  # advanced fields are in the collapsed box
    assert not any(inner.isAncestorOf(form.editor(n)) for n in recipe - adv)  # and only they
    assert form.editor("learning_rate").input.text() == "0.005"


def test_invalid_values_are_marked_and_not_applied(qtbot, project):
    from ntmm_app.widgets.config_form import ConfigForm

    form = ConfigForm(project, "teacher", exclude=("base_model",))
    qtbot.addWidget(form)
    edit = form.editor("learning_rate").input
    for bad in ("abc", "-1", "5"):
        edit.setText(bad)
        edit.textEdited.emit(bad)
        assert form.has_errors()
        assert edit.property("invalid") is True
        assert project.config.teacher.learning_rate == 5e-3  # unchanged
    assert "out of range" in form.editor("learning_rate").error.text()
    edit.setText("3e-4")
    edit.textEdited.emit("3e-4")
    assert not form.has_errors() and project.config.teacher.learning_rate == 3e-4
    assert project.dirty

    # a cross-field rule: validation + test ratio must leave 10% for training
    data = ConfigForm(project, "data", fields=["validation_ratio", "test_ratio"])
    qtbot.addWidget(data)
    data.editor("validation_ratio").input.textEdited.emit("0.45")
    data.editor("test_ratio").input.textEdited.emit("0.45")
    assert data.has_errors() and "at least 10%" in data.errors()[0][1]
    assert project.config.data.test_ratio == 0.1


def test_teacher_start_is_blocked_by_an_invalid_field(make_window, tiny_project, wait_idle):
    w = make_window(tiny_project)
    page = w.page("teacher")
    w.go_to(1)
    assert page.controls.start.isEnabled()
    page.form.editor("weight_decay").input.textEdited.emit("2")
    assert not page.controls.start.isEnabled()
    assert "teacher.weight_decay" in page.controls.state.text()
    assert page.start() is False and not w.runner.busy
    page.form.editor("weight_decay").input.textEdited.emit("0.02")
    assert page.controls.start.isEnabled()
    wait_idle(w)


def train_events(job: str = "teacher", n: int = 40) -> list:
    evs = [JobStarted(job, total_steps=n, device="cpu", precision="fp32"),
           Progress(job, phase="preparing data", done=1, total=3)]
    for step in range(1, n + 1):
        evs.append(TrainLog(job, step=step, max_steps=n, epoch=step / 10, loss=2.0 / step, learning_rate=1e-4 * (1 - step / n),
                            samples_per_second=50.0, eta_seconds=(n - step) * 0.5,
                            extra={"loss_kl": 1.0 / step, "loss_ce": 0.5, "loss_cos": 0.1, "loss_mse": 0.2}))
        if step % 10 == 0:
            evs.append(Evaluation(job, step=step, epoch=step / 10, split="validation",
                                  metrics={"loss": 1.0 / step, "accuracy": 0.5 + step / 100, "macro_f1": 0.4 + step / 100}))
    evs.append(CheckpointSaved(job, step=n, path="x"))
    evs.append(LogMessage(job, text="saving"))
    return evs


def test_live_view_plots_events_and_throttles_redraws(qtbot):
    from ntmm_app.widgets.live_plot import LiveTrainingView

    view = LiveTrainingView(("distill", "baseline"), loss_components=True)
    qtbot.addWidget(view)
    view.show()
    for ev in train_events("distill") + train_events("baseline", 20):
        view.handle_event(ev)
    # nothing drawn per event: the timer redraws later
    assert view.loss_plot.redraws == 0
    qtbot.waitUntil(lambda: view.loss_plot.redraws >= 1, timeout=2000)
    assert view.loss_plot.redraws <= 2
    view.flush()  # the other plots' timers may not have fired yet
    x, y = view.loss_plot.data("distill:train")
    assert len(x) == 40 and x[-1] == 40 and y[0] == 2.0
    assert len(view.loss_plot.data("distill:val_loss")[0]) == 4
    assert len(view.metric_plot.data("distill:f1")[0]) == 4
    assert len(view.lr_plot.data("distill:lr")[0]) == 40
    assert set(view.components_plot.series) == {"loss_kl", "loss_ce", "loss_cos", "loss_mse"}
    assert len(view.loss_plot.data("baseline:train")[0]) == 20  # second job: its own dashed curve
    # the bar follows the job training now (the baseline after the distillation)
    assert view.progress.value() == 20 and view.progress.maximum() == 20
    assert view.status.text().startswith("baseline epoch")
    assert "samples/s" in view.status.text() and "ETA" in view.status.text()
    assert "validation @ step 40" in view.log.toPlainText()
    view.handle_event(Evaluation("distill", step=40, split="final_test", metrics={
        "accuracy": 0.9, "macro_f1": 0.88, "per_class": [{"label": "a", "precision": 1, "recall": 0.8, "f1": 0.89, "support": 5},
                                                         {"label": "b", "precision": 0.8, "recall": 1, "f1": 0.89, "support": 4}],
        "confusion_matrix": [[4, 1], [0, 4]]}))
    assert view.metrics.per_class.rowCount() == 2 and view.metrics.confusion.rowCount() == 2
    assert "macro-F1 0.880" in view.metrics.summary.text()
    view.handle_event(JobFinished("distill", status="completed"))
    assert view.status.text() == "Completed"
    view.reset()
    assert view.loss_plot.series == {}


def test_plot_grids_are_opaque_and_under_the_data(qtbot):
    """Translucent grid lines made each live redraw ~5x slower (bench/gui_responsiveness.py): grids are opaque."""
    from PySide6.QtGui import QColor

    from ntmm_app.widgets.charts import BarChart
    from ntmm_app.widgets.live_plot import GRID_COLOR, LivePlot

    plot = LivePlot("Loss", "loss")
    chart = BarChart("Latency")
    for w in (plot, chart):
        qtbot.addWidget(w)
        w.resize(400, 300)
        w.show()
    plot.append("train", 0, 0.1)
    plot.append("train", 100, 0.9)
    plot.redraw()
    for axis_name in ("left", "bottom"):
        axis = plot.getAxis(axis_name)
        assert axis.grid == 255 and axis.style["tickAlpha"] == 255
        assert axis.zValue() < plot.getViewBox().zValue()  # beneath the curves
    assert chart.plot.getAxis("bottom").grid == 255 and chart.plot.getAxis("left").grid is False
    image = plot.grab().toImage()
    grid = QColor(GRID_COLOR).rgb()
    assert sum(image.pixel(x, y) == grid for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)) > 50


def test_score_axes_read_as_scores_not_scaled_by_an_si_prefix(qtbot):
    """A macro-F1 bar chart at 1024 wide read "200, 400 … macro-F1 (x0.001)": pyqtgraph's automatic SI prefix."""
    from ntmm_app.widgets.charts import BarChart

    chart = BarChart("Test macro-F1", x_label="macro-F1 (higher is better)")
    qtbot.addWidget(chart)
    chart.resize(400, 240)
    chart.show()
    chart.set_data(["teacher", "student"], {"macro-F1": [0.53, 0.47]})
    axis = chart.plot.getAxis("bottom")
    axis.picture = None
    chart.plot.grab()
    assert axis.labelString().count("x0.001") == 0 and "macro-F1 (higher is better)" in axis.labelString()
    assert all(0 <= v <= 1 for level in axis.tickValues(0.0, 0.6, 400) for v in level[1])


def test_live_view_replays_history(qtbot):
    from ntmm_app.widgets.live_plot import LiveTrainingView

    view = LiveTrainingView(("teacher",))
    qtbot.addWidget(view)
    view.load_history([event_to_dict(e) for e in train_events()] + [{"kind": "Unknown"}, {"kind": "TrainLog", "bogus": 1}])
    assert len(view.loss_plot.data("teacher:train")[0]) == 40


def test_short_series_are_visible_and_axes_start_from_the_data(qtbot):
    """Issue 18: one logged point was invisible (a line needs two) on axes from -400e-3 to 400e-3."""
    from ntmm_app.widgets.live_plot import SHORT_SERIES, LiveTrainingView

    view = LiveTrainingView(("teacher",))
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    assert not view.loss_plot.legend.isVisible()  # no empty legend box before the first point
    view.handle_event(TrainLog(job="teacher", step=10, max_steps=600, epoch=0.1, loss=2.0, learning_rate=2e-4))
    view.flush()
    item = view.lr_plot.series["teacher:lr"][1]
    assert item.opts["symbol"] is not None  # a dot for the single point
    (x0, x1), (y0, y1) = view.lr_plot.getViewBox().viewRange()
    assert x0 <= 10 <= x1 and -1e-4 <= y0 <= 0 < 2e-4 < y1 < 5e-4  # around the value, from 0
    assert view.loss_plot.legend.isVisible()
    for step in range(20, 20 + 10 * SHORT_SERIES, 10):
        view.handle_event(TrainLog(job="teacher", step=step, max_steps=600, epoch=step / 100, loss=2.0 - step / 1000,
                                   learning_rate=2e-4 * (1 - step / 600)))
    view.flush()
    assert item.opts["symbol"] is None  # a long series is a plain line (and repaints fast)

    # a zoomed plot is not inherited by the next run or project
    view.loss_plot.setXRange(100, 110)
    assert view.loss_plot.getViewBox().state["autoRange"][0] is False
    view.reset()
    assert view.loss_plot.getViewBox().state["autoRange"][0] is not False
    assert view.metric_plot.getViewBox().viewRange()[1][1] <= 1.05  # scores stay on 0..1


def test_log_axis_labels_do_not_overprint(qtbot):
    import numpy as np
    import pyqtgraph as pg

    from ntmm_app.widgets.live_plot import LogTickAxis

    plot = pg.PlotWidget(axisItems={"bottom": LogTickAxis("bottom")})
    qtbot.addWidget(plot)
    plot.setLogMode(x=True, y=False)
    plot.plot(np.logspace(-4.3, -2.7, 30), np.ones(30))
    plot.resize(460, 280)
    plot.show()
    axis = plot.getAxis("bottom")
    axis.setRange(-4.3, -2.7)
    minor = [np.log10(m * 1e-4) for m in range(2, 10)]
    labels = axis.tickStrings(minor, 1, 1)
    assert labels == ["2e-4", "", "", "5e-4", "", "", "", ""]  # 1, 2, 5 x 10^k only
    axis.setRange(-6, 0)  # six decades: powers of ten only
    assert axis.tickStrings([-6, np.log10(2e-6), -3, -2, 0], 1, 1) == ["1e-6", "", "1e-3", "0.01", "1"]


def test_resume_and_cancel_counters_agree_with_the_log(qtbot):
    """Issue 18: Resume showed 0/N first; a reopened cancelled run showed 15/20 while its log said 16/20,
    and "cancelled" was logged twice; setup phases read "teacher: ready (3/3)"."""
    from ntmm_app.widgets.live_plot import LiveTrainingView

    view = LiveTrainingView(("teacher",))
    qtbot.addWidget(view)
    view.handle_event(Progress("teacher", phase="loading model", done=0, total=3))
    assert view.status.text() == "Teacher: loading model"  # no "(0/3)" jargon
    view.handle_event(JobStarted("teacher", total_steps=20, start_step=16, resumed_from="ckpt/checkpoint-16"))
    assert (view.progress.value(), view.progress.maximum()) == (16, 20)  # not 0/20 until the next log line

    view.reset()
    history = [JobStarted("teacher", total_steps=20),
               TrainLog("teacher", step=15, max_steps=20, epoch=1.5, loss=0.5, learning_rate=1e-4),
               LogMessage("teacher", text="Cancelled at step 16/20; resume from ckpt/checkpoint-16"),
               JobFinished("teacher", status="cancelled", summary={"steps_done": 16, "total_steps": 20})]
    view.load_history([event_to_dict(e) for e in history])
    assert view.progress.value() == 16
    assert view.log.toPlainText().lower().count("cancelled") == 1
    assert "Resume" in view.status.text()


def test_long_status_lines_are_elided_with_the_whole_text_in_the_tooltip(qtbot):
    """Issue 18: at 1280 wide, status lines were cut mid-word ("…ETA 2:56 · los") with no way to read them."""
    from ntmm_app.widgets.elided_label import ElidedLabel

    label = ElidedLabel()
    qtbot.addWidget(label)
    label.resize(200, 24)
    label.show()
    text = "Epoch 3.20 · step 480/600 · 25.3 samples/s · ETA 2:56 · loss 0.4321 and a long model path /data/models/x"
    label.setText(text)
    assert label.is_elided() and label.elided_text().endswith("…") and label.toolTip() == text
    label.resize(2000, 24)
    assert not label.is_elided() and label.toolTip() == ""
    img = label.grab().toImage()  # it paints its text
    assert any(img.pixelColor(x, y).lightness() < 128 for x in range(0, 150) for y in range(0, 20))


def test_final_metrics_show_every_class_at_1024x700(make_window, tiny_project, wait_idle):
    """Issue 18: Final metrics showed one per-class row and two confusion rows until a splitter was dragged."""
    from ntmm_engine.reports.metrics import classification_metrics

    names = ["neoplasms", "digestive", "nervous", "cardiovascular", "general"]
    labels = [i % 5 for i in range(50)]
    m = classification_metrics(labels, [(i + (i % 7 == 0)) % 5 for i in range(50)], names)
    w = make_window(tiny_project)
    w.resize(1024, 700)
    page = w.page("teacher")
    w.go_to(w.pages.index(page))
    live = page.live
    live.metrics.show_metrics(m)
    live.tabs.setCurrentWidget(live.metrics)
    wait_idle(w)
    for _ in range(5):
        QApplication.processEvents()
    for table in (live.metrics.per_class, live.metrics.confusion):
        need = sum(table.rowHeight(i) for i in range(5))
        assert table.viewport().height() >= need, (table.viewport().height(), need)


def test_explanation_lines_never_lie_over_each_other(qtbot):
    """Issue 18: on the Predict step at 1024x700 the top words' last line was drawn over the timing line.
    Squeezed, the explanation's details scroll; with room, they show whole, without a scroll bar."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QPlainTextEdit, QSplitter, QVBoxLayout, QWidget

    from ntmm_app.widgets.explanation_view import ExplanationView

    top = "<br>".join(f"<b>{c}</b> (93%): ECG +0.09, chest +0.09, radiating +0.08, arm +0.05, central +0.03 "
                      "<span style='color:#777'>| against: diaphoretic -0.03, ST -0.01</span>"
                      for c in ("cardiology", "gastroenterology", "endocrinology"))
    for size, room in (((380, 420), False), ((560, 900), True)):
        window = QWidget()
        qtbot.addWidget(window)
        window.resize(*size)
        # as on the Predict step: below the typed text, in a splitter, in a panel that cannot grow (a child
        # widget's layout does not hold it at its minimum size, as a window's does)
        host = QWidget(window)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(QPlainTextEdit())
        split.addWidget(view := ExplanationView())
        QVBoxLayout(host).addWidget(split)
        host.resize(*size)
        window.show()
        split.setSizes([180, size[1] - 180])
        view.legend.setText("pushes away from cardiology … pushes towards cardiology")
        view.top.setText(top)
        view.status.setText("Scores: change of the calibrated log-probability (leave-one-word-out occlusion); 9 ms.")
        for _ in range(20):
            QApplication.processEvents()
        assert view.top.geometry().bottom() < view.status.geometry().top()  # one below the other
        assert view.top.height() >= view.top.heightForWidth(view.top.width())  # every line of the top words
        assert (view.details.verticalScrollBar().maximum() == 0) == room
