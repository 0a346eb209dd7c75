"""The learning-rate range test as a dialog: run it, watch loss against LR, apply the suggestion.

The test is the engine's ``find_lr`` job, started through the window's
:class:`~ntmm_app.workers.JobRunner` like every other job (so it never runs
beside training, and closing the window cancels it). It trains a throw-away
copy of the base model; the project's models are never changed. Applying
the suggestion only sets ``teacher.learning_rate`` in the project.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ntmm_engine import api
from ntmm_engine.core.events import JobStarted, Progress, TrainLog

from ..workers import JobRunner
from .live_plot import LogTickAxis, format_eta, show_grid

JOB = "lr_find"
DEFAULTS = {"start_lr": 1e-7, "end_lr": 1.0, "num_steps": 100}


def parse_lr(text: str) -> float | None:
    """A positive, finite learning rate from text such as ``1e-5`` or ``0.0003`` (None if invalid)."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


class LRFinderDialog(QDialog):
    """Non-modal dialog owned by the Teacher page; ``apply`` sets the learning rate."""

    def __init__(self, runner: JobRunner, *, snapshot: Callable[[], Any],
                 current_lr: Callable[[], float], apply: Callable[[float], None], settings=None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Find a learning rate")
        self.runner, self._snapshot = runner, snapshot
        self._current_lr, self._apply, self._settings = current_lr, apply, settings
        self.suggestion: float | None = None
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []

        intro = QLabel("Trains a throw-away copy of the base model for a few steps while the learning rate grows "
                       "exponentially, and suggests the rate where the loss falls fastest. Your models are not changed.")
        intro.setWordWrap(True)

        form = QFormLayout()
        self.start_lr = QLineEdit()
        self.end_lr = QLineEdit()
        self.steps = QSpinBox()
        self.steps.setRange(5, 1000)
        self.start_lr.setToolTip("First learning rate of the test (e.g. 1e-7)")
        self.end_lr.setToolTip("Last learning rate; the test stops earlier when the loss explodes")
        self.steps.setToolTip("Optimizer steps at most (each uses batch size x accumulation steps of the recipe)")
        for label, w in (("&From LR", self.start_lr), ("&To LR", self.end_lr), ("Ste&ps", self.steps)):
            lab = QLabel(label)
            lab.setBuddy(w)
            form.addRow(lab, w)
        self.input_error = QLabel()
        self.input_error.setObjectName("fieldError")
        self.input_error.hide()
        form.addRow(self.input_error)
        self.start_lr.textEdited.connect(self._validate)
        self.end_lr.textEdited.connect(self._validate)

        self.plot = pg.PlotWidget(axisItems={"bottom": LogTickAxis("bottom")})
        self.plot.setLogMode(x=True, y=False)
        self.plot.setLabel("bottom", "learning rate (log scale)")
        self.plot.setLabel("left", "training loss")
        show_grid(self.plot, x=False)  # on the log axis, lines at every 2..9 x 10^k would crowd it
        self.plot.setMenuEnabled(False)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)  # ticks read 1e-05 … 1, not "x0.001"
        self.legend = self.plot.addLegend(offset=(-8, 8), labelTextSize="8pt", brush=(255, 255, 255, 210),
                                          pen=(200, 200, 200))
        self.plot.setMinimumSize(420, 260)
        self.raw_curve = self.plot.plot([], [], pen=pg.mkPen((170, 170, 170), width=1), name="loss per step")
        self.smooth_curve = self.plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2), name="smoothed loss")
        # Lines are placed in log10(LR): the view's coordinates under a log x axis.
        self.suggest_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#2ca02c", width=2), label="suggested",
                                            labelOpts={"position": 0.92, "color": "#2ca02c"})
        self.current_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#7f7f7f", width=1, style=Qt.PenStyle.DashLine),
                                            label="current", labelOpts={"position": 0.08, "color": "#555555"})
        for line in (self.suggest_line, self.current_line):
            line.hide()
            self.plot.addItem(line)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel("Not run yet.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.run_button = QPushButton("&Run test")
        self.run_button.setObjectName("primaryButton")
        self.cancel_button = QPushButton("&Cancel test")
        self.apply_button = QPushButton("&Apply suggestion")
        self.apply_button.setToolTip("Set the teacher's learning rate to the suggested value")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.run_button.clicked.connect(self.run_test)
        self.cancel_button.clicked.connect(self.cancel_test)
        self.apply_button.clicked.connect(self.apply_suggestion)

        row = QHBoxLayout()
        for b in (self.run_button, self.cancel_button, self.apply_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(buttons)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addLayout(row)

        runner.started.connect(self._update_buttons)
        runner.busy_changed.connect(lambda _b: self._update_buttons())
        runner.event.connect(self._on_event)
        runner.finished.connect(self._on_finished)
        runner.cancelled.connect(self._on_cancelled)
        runner.failed.connect(self._on_failed)
        self._load_settings()
        self._update_buttons()

    # ------------------------------------------------------------- state
    @property
    def running(self) -> bool:
        return self.runner.current == JOB

    def _values(self) -> tuple[float, float, int] | None:
        lo, hi = parse_lr(self.start_lr.text()), parse_lr(self.end_lr.text())
        if lo is None or hi is None or not lo < hi:
            return None
        return lo, hi, self.steps.value()

    def _validate(self) -> bool:
        ok = self._values() is not None
        self.input_error.setText("" if ok else "Enter two positive learning rates, the first below the second "
                                               "(for example 1e-7 and 1).")
        self.input_error.setVisible(not ok)
        self._update_buttons()
        return ok

    def _update_buttons(self, *_args: Any) -> None:
        running = self.running
        busy_other = self.runner.busy and not running
        self.run_button.setEnabled(not self.runner.busy and self._values() is not None)
        self.cancel_button.setEnabled(running)
        self.apply_button.setEnabled(not running and self.suggestion is not None)
        for w in (self.start_lr, self.end_lr, self.steps):
            w.setEnabled(not running)
        if busy_other:
            self.status.setText(f"Another job ({self.runner.current}) is running; the test can start when it ends.")

    def _load_settings(self) -> None:
        s = self._settings
        get = (lambda k: s.value(f"lr_find/{k}", DEFAULTS[k])) if s is not None else DEFAULTS.get
        self.start_lr.setText(f"{float(get('start_lr')):g}")
        self.end_lr.setText(f"{float(get('end_lr')):g}")
        self.steps.setValue(int(get("num_steps")))

    def _save_settings(self, lo: float, hi: float, n: int) -> None:
        if self._settings is not None:
            for k, v in (("start_lr", lo), ("end_lr", hi), ("num_steps", n)):
                self._settings.set_value(f"lr_find/{k}", v)

    # ------------------------------------------------------------ showing
    def show_for_project(self) -> None:
        """Open (or raise) the dialog, with the last saved curve of this project if there is one."""
        if not self.running:
            self._show_saved()
        self._mark_current()
        self.show()
        self.raise_()
        self.activateWindow()

    def _show_saved(self) -> None:
        saved = api.read_lr_curve(self._snapshot())
        if saved is None or not saved.lrs:
            self._set_curve([], [], [], None)
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.status.setText("Not run yet for this project.")
            return
        self._set_curve(saved.lrs, saved.losses, saved.smoothed, saved.suggestion)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.status.setText("Last test: " + self._result_text(saved.suggestion, saved.stopped_reason, saved.steps or len(saved.lrs)))

    def _set_curve(self, lrs, losses, smoothed, suggestion: float | None) -> None:
        self.lrs, self.losses, self.smoothed = list(lrs), list(losses), list(smoothed)
        self._redraw()
        self.suggestion = suggestion
        # shown before its label is set: pyqtgraph does not update the label of a hidden line ("current"
        # stayed without its value)
        self.suggest_line.setVisible(bool(suggestion))
        if suggestion:
            self.suggest_line.setValue(math.log10(suggestion))
            self.suggest_line.label.setFormat(f"suggested {suggestion:.1e}")
        self.apply_button.setText(f"&Apply {suggestion:.1e}" if suggestion else "&Apply suggestion")
        self._update_buttons()

    def _mark_current(self) -> None:
        lr = self._current_lr()
        if lr and lr > 0:
            self.current_line.show()  # first: see _set_curve
            self.current_line.setValue(math.log10(lr))
            self.current_line.label.setFormat(f"current {lr:.1e}")

    def _redraw(self) -> None:
        n = min(len(self.lrs), len(self.losses))
        self.raw_curve.setData(self.lrs[:n], self.losses[:n])
        m = min(len(self.lrs), len(self.smoothed))
        self.smooth_curve.setData(self.lrs[:m], self.smoothed[:m])
        self.legend.setVisible(n > 0)  # no legend of curves that are not there yet
        values = self._values()
        if n == 0 and values is not None:  # before a test: the range it will sweep, not a default around 1e-4
            self.plot.setXRange(math.log10(values[0]), math.log10(values[1]), padding=0.02)
        self._fit_y()

    def _fit_y(self) -> None:
        """Show the smoothed curve's useful part: from its minimum to a bit above where it started.

        A diverging test ends with losses many times the start, which would
        otherwise flatten the part of the curve the suggestion comes from.
        """
        values = [v for v in self.smoothed if math.isfinite(v)]
        if len(values) < 2:
            self.plot.enableAutoRange(axis="y")
            return
        lo, start = min(values), values[0]
        span = max(start - lo, 0.05 * abs(start), 1e-6)
        self.plot.setYRange(lo - 0.15 * span, min(max(values), start + 0.6 * span) + 0.15 * span, padding=0)

    @staticmethod
    def _result_text(suggestion: float | None, reason: str, steps: int) -> str:
        head = (f"suggested learning rate {suggestion:.2e}" if suggestion
                else "no suggestion (too few points: widen the range or add steps)")
        return f"{head}. Stopped: {reason} after {steps} steps."

    # ------------------------------------------------------------ actions
    def run_test(self) -> bool:
        values = self._values()
        if values is None or self.runner.busy:
            return False
        lo, hi, n = values
        self._save_settings(lo, hi, n)
        self._set_curve([], [], [], None)
        self.progress.setRange(0, n)
        self.progress.setValue(0)
        self.status.setText("Starting: loading the model and data…")
        started = self.runner.start(JOB, api.find_lr, self._snapshot(), start_lr=lo, end_lr=hi, num_steps=n)
        self._update_buttons()
        return started

    def cancel_test(self) -> None:
        if self.running:
            self.status.setText("Cancelling at the next step…")
            self.runner.cancel()

    def apply_suggestion(self) -> None:
        if self.suggestion is None:
            return
        # round to 2 significant digits: the test is not more precise than that
        value = float(f"{self.suggestion:.1e}")
        self._apply(value)
        self._mark_current()
        self.status.setText(f"Teacher learning rate set to {value:g}.")

    def reject(self) -> None:  # Close / Esc: a test nobody watches is cancelled
        self.cancel_test()
        super().reject()

    # ------------------------------------------------------------ runner
    def _on_event(self, ev: Any) -> None:
        if getattr(ev, "job", "") != JOB:
            return
        if isinstance(ev, TrainLog):
            self.lrs.append(float(ev.learning_rate or 0.0))
            self.losses.append(float(ev.loss if ev.loss is not None else math.nan))
            self.smoothed.append(float(ev.extra.get("smoothed", math.nan)))
            self._redraw()
            self.progress.setRange(0, max(ev.max_steps, 1))
            self.progress.setValue(ev.step)
            self.status.setText(f"Step {ev.step}/{ev.max_steps}: LR {ev.learning_rate:.2e}, "
                                f"smoothed loss {ev.extra.get('smoothed', math.nan):.4f}, ETA {format_eta(ev.eta_seconds)}")
        elif isinstance(ev, Progress) and not self.lrs:
            self.status.setText(f"{ev.phase.capitalize()}…")
        elif isinstance(ev, JobStarted):
            self.status.setText("Running…")

    def _on_finished(self, name: str, result: Any) -> None:
        if name != JOB:
            return
        self._set_curve(result.lrs, result.losses, result.smoothed, result.suggestion)
        self.progress.setValue(self.progress.maximum())
        text = self._result_text(result.suggestion, result.stopped_reason, result.steps)
        self.status.setText(text[:1].upper() + text[1:])

    def _on_cancelled(self, name: str, _result: Any) -> None:
        if name == JOB:
            self.status.setText("Cancelled. Nothing was changed.")
            self._update_buttons()

    def _on_failed(self, name: str, message: str, _details: str) -> None:
        if name == JOB:
            self.status.setText("Failed: " + message.splitlines()[0])
            self._update_buttons()
