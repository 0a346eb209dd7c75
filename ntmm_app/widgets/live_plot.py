"""Live training curves, progress and log for the Teacher and Distill pages.

Points go into growing numpy buffers as events arrive; the curves are redrawn
from a single-shot QTimer at most ~10 times a second (as in pyqtgraph's
scrolling-plots example), never once per event.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ntmm_engine.core.events import (
    CheckpointSaved,
    Evaluation,
    Event,
    JobFailed,
    JobFinished,
    JobStarted,
    LogMessage,
    Progress,
    TrainLog,
    event_from_dict,
)

from .metrics_view import MetricsView

REDRAW_MS = 100
COLORS = {"train": "#1f77b4", "validation": "#d62728", "learning rate": "#2ca02c", "accuracy": "#9467bd",
          "macro-F1": "#ff7f0e", "loss_kl": "#1f77b4", "loss_ce": "#d62728", "loss_cos": "#2ca02c",
          "loss_mse": "#9467bd", "loss_labelled": "#8c564b", "loss_unlabelled": "#17becf"}
# Loss parts drawn next to the training loss (distillation with unlabelled texts)
LOSS_PARTS = {"loss_labelled": "train: labelled part", "loss_unlabelled": "train: unlabelled part (soft only)"}
FALLBACK = ["#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

# Antialiasing off: live curves with thousands of points repaint several times faster.
pg.setConfigOptions(background="w", foreground="#333333", antialias=False)
GRID_COLOR = "#e4e4e4"


def show_grid(plot: pg.PlotWidget | pg.PlotItem, x: bool = True, y: bool = True) -> None:
    """Grid lines in an opaque light grey, beneath the data.

    Not pyqtgraph's ``showGrid(alpha=...)``: it draws translucent lines, which Qt's raster engine
    blends pixel by pixel. With them one redraw of the live curves took ~48 ms on a 2-core CPU,
    with opaque lines ~9 ms; during a job those redraws were the window's longest stalls
    (bench/gui_responsiveness.py).
    """
    for name, on in (("bottom", x), ("left", y)):
        if on:
            axis = plot.getAxis(name)
            axis.setGrid(255)
            axis.setTickPen(pg.mkPen(GRID_COLOR))
            axis.setStyle(tickAlpha=255, maxTickLevel=0)  # lines at the labelled ticks only
            axis.setZValue(plot.getViewBox().zValue() - 1)  # under the curves and bars (pyqtgraph puts axes above)


class SeriesBuffer:
    """A growing (x, y) buffer; doubling capacity keeps appends O(1) amortised."""

    def __init__(self, capacity: int = 256) -> None:
        self._x = np.empty(capacity)
        self._y = np.empty(capacity)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self._x):
            self._x = np.resize(self._x, 2 * self.n)
            self._y = np.resize(self._y, 2 * self.n)
        self._x[self.n], self._y[self.n] = x, y
        self.n += 1

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]

    def clear(self) -> None:
        self.n = 0


class LivePlot(pg.PlotWidget):
    """A plot of named series that redraws on a timer, not per point."""

    def __init__(self, title: str, y_label: str = "", x_label: str = "step", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(title, size="10pt")
        self.setLabel("bottom", x_label)
        if y_label:
            self.setLabel("left", y_label)
        show_grid(self)
        self.setClipToView(True)
        self.setDownsampling(auto=True, mode="peak")
        self.setMenuEnabled(False)
        self.legend = self.addLegend(offset=(-8, 8), labelTextSize="8pt", brush=(255, 255, 255, 210),
                                     pen=(200, 200, 200))
        self.getAxis("left").enableAutoSIPrefix(False)  # a loss of 0.3 must read 0.3, not 300 (x0.001)
        self.setMinimumHeight(110)
        self.series: dict[str, tuple[SeriesBuffer, pg.PlotDataItem]] = {}
        self._dirty: set[str] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.redraw)
        self.redraws = 0

    def ensure_series(self, key: str, label: str | None = None, color: str | None = None,
                      dashed: bool = False, symbol: str | None = None) -> None:
        if key in self.series:
            return
        color = color or COLORS.get(label or key) or FALLBACK[len(self.series) % len(FALLBACK)]
        pen = pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
        item = self.plot([], [], pen=pen, name=label or key, symbol=symbol, symbolSize=6,
                         symbolBrush=color, symbolPen=color, skipFiniteCheck=True)
        self.series[key] = (SeriesBuffer(), item)
        if len(self.series) == 5:  # a legend of many curves (loss parts with unlabelled texts): two columns, half as tall
            self.legend.setColumnCount(2)

    def append(self, key: str, x: float, y: float | None, **style: Any) -> None:
        if y is None or not math.isfinite(y):
            return
        self.ensure_series(key, **style)
        self.series[key][0].append(x, y)
        self._dirty.add(key)
        if not self._timer.isActive():
            self._timer.start()

    def redraw(self) -> None:
        for key in self._dirty:
            buf, item = self.series[key]
            item.setData(buf.x, buf.y, skipFiniteCheck=True)
        self._dirty.clear()
        self.redraws += 1

    def data(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """Every point the curve was given at the last redraw (before downsampling for display)."""
        if key not in self.series:
            return np.empty(0), np.empty(0)
        item = self.series[key][1]
        x, y = item.xData, item.yData
        return (np.asarray(x) if x is not None else np.empty(0), np.asarray(y) if y is not None else np.empty(0))

    def clear_series(self) -> None:
        self._timer.stop()
        for _buf, item in self.series.values():
            self.removeItem(item)
            self.legend.removeItem(item)
        self.series.clear()
        self.legend.setColumnCount(1)
        self._dirty.clear()


def format_eta(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 60}:{seconds % 60:02d}"


class LiveTrainingView(QWidget):
    """Curves (loss, learning rate, validation metrics, loss parts), progress, log and final metrics.

    ``jobs``: event job names shown; the first is the main one, the others
    (e.g. the distillation baseline) get dashed curves with their name.
    """

    def __init__(self, jobs: tuple[str, ...], *, loss_components: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)

        row = QHBoxLayout()
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("%p%")
        self.status = QLabel("Not started", self)
        self.status.setObjectName("progressText")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # a long model path must not widen the page (it is clipped; the tooltip has it whole)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row.addWidget(self.progress, 2)
        row.addWidget(self.status, 3)
        lay.addLayout(row)

        plots = QWidget(self)
        grid = QGridLayout(plots)
        grid.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = LivePlot("Loss", "loss")
        self.metric_plot = LivePlot("Validation accuracy / macro-F1", "score")
        self.metric_plot.setYRange(0, 1, padding=0.02)
        self.lr_plot = LivePlot("Learning rate", "lr")
        self.lr_plot.getAxis("left").enableAutoSIPrefix(True)
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.metric_plot, 0, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        self.components_plot = None
        if loss_components:
            self.components_plot = LivePlot("Distillation loss parts", "loss")
            grid.addWidget(self.lr_plot, 1, 0)
            grid.addWidget(self.components_plot, 1, 1)
        else:
            grid.addWidget(self.lr_plot, 1, 0, 1, 2)
        self.plots = [p for p in (self.loss_plot, self.metric_plot, self.lr_plot, self.components_plot) if p]

        self.tabs = QTabWidget(self)
        self.log = QPlainTextEdit(self)
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.log.setFont(mono)
        self.metrics = MetricsView(self)
        self.tabs.addTab(self.log, "&Log")
        self.tabs.addTab(self.metrics, "F&inal metrics")

        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(plots)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        lay.addWidget(split, 1)
        self.last_validation: dict[str, Any] = {}
        self.final: dict[str, dict[str, Any]] = {}
        self._train_started = False
        # Progress text and bar follow the newest TrainLog, refreshed with the curves (~10 Hz), not per event.
        self._latest: tuple[TrainLog, str] | None = None
        self._text_timer = QTimer(self)
        self._text_timer.setSingleShot(True)
        self._text_timer.setInterval(REDRAW_MS)
        self._text_timer.timeout.connect(self._show_latest)

    # ------------------------------------------------------------ public
    def add_tab(self, widget: QWidget, title: str) -> None:
        self.tabs.addTab(widget, title)

    def reset(self) -> None:
        for p in self.plots:
            p.clear_series()
        self.log.clear()
        self.metrics.clear()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText("Starting…")
        self.last_validation, self.final = {}, {}
        self._train_started = False
        self._latest = None

    def flush(self) -> None:
        """Redraw now (tests, and before a screenshot)."""
        for p in self.plots:
            p.redraw()
        self._show_latest()

    def _show_latest(self) -> None:
        if self._latest is not None:
            self._show_progress(*self._latest)
            self._latest = None

    def load_history(self, records: list[dict[str, Any]]) -> None:
        """Replay a stage's history.jsonl (a finished or interrupted run)."""
        for rec in records:
            try:
                self.handle_event(event_from_dict(rec), replay=True)
            except (KeyError, TypeError):
                continue  # a record of a newer/older event shape
        self.flush()

    def handle_event(self, ev: Event, replay: bool = False) -> None:
        if ev.job not in self.jobs:
            return
        main = ev.job == self.jobs[0]
        prefix = "" if main else f"{ev.job} "
        style = {} if main else {"dashed": True}
        if isinstance(ev, TrainLog):
            self._train_started = True
            self.loss_plot.append(f"{ev.job}:train", ev.step, ev.loss, label=f"{prefix}train",
                                  color=COLORS["train"], **style)
            self.lr_plot.append(f"{ev.job}:lr", ev.step, ev.learning_rate, label=f"{prefix}learning rate",
                                color=COLORS["learning rate"], **style)
            if self.components_plot is not None and main:
                for k, v in sorted(ev.extra.items()):
                    if k in LOSS_PARTS:  # with unlabelled texts: the labelled and the unlabelled part of the loss
                        self.loss_plot.append(f"{ev.job}:{k}", ev.step, v, label=LOSS_PARTS[k], color=COLORS[k])
                    elif k.startswith("loss_"):  # a component; on the unlabelled rows dashed, in the colour of the labelled one
                        base = k.removesuffix("_unlabelled")
                        self.components_plot.append(k, ev.step, v, label=k, color=COLORS.get(base), dashed=base != k)
            self._latest = (ev, prefix)
            if replay:
                self._show_latest()
            elif not self._text_timer.isActive():
                self._text_timer.start()
        elif isinstance(ev, Evaluation):
            m = ev.metrics
            if ev.split == "validation":
                sym = {"symbol": "o"}
                self.loss_plot.append(f"{ev.job}:val_loss", ev.step, _num(m.get("loss")), label=f"{prefix}validation",
                                      color=COLORS["validation"], **sym, **style)
                self.metric_plot.append(f"{ev.job}:acc", ev.step, _num(m.get("accuracy")), label=f"{prefix}accuracy",
                                        color=COLORS["accuracy"], **sym, **style)
                self.metric_plot.append(f"{ev.job}:f1", ev.step, _num(m.get("macro_f1")), label=f"{prefix}macro-F1",
                                        color=COLORS["macro-F1"], **sym, **style)
                if main:
                    self.last_validation = m
                self._log(f"[{ev.job}] validation @ step {ev.step}: " + _metric_text(m))
            elif ev.split.startswith("final_"):
                self.final[f"{ev.job}:{ev.split}"] = m
                if main and ev.split == "final_test":
                    self.metrics.show_metrics(m, title=f"Test split ({ev.job})")
                self._log(f"[{ev.job}] {ev.split.removeprefix('final_')} (best model): " + _metric_text(m))
        elif isinstance(ev, JobStarted):
            # The bar follows whichever job trains now (distill, then its baseline).
            self._latest = None
            self.progress.setRange(0, max(ev.total_steps, 1))
            self.progress.setValue(0)
            self.progress.setFormat("%v / %m steps")
            self._log(f"[{ev.job}] training {ev.total_steps} steps on {ev.device} ({ev.precision})"
                      + (f", resuming from {ev.resumed_from}" if ev.resumed_from else ""))
        elif isinstance(ev, Progress):
            if not replay:
                text = f"{ev.job}: {ev.phase}" + (f" ({ev.done}/{ev.total})" if ev.total > 1 else "")
                if ev.message:
                    text += f" – {ev.message}"
                if not self._train_started:
                    self.progress.setRange(0, max(ev.total, 1))
                    self.progress.setValue(min(ev.done, max(ev.total, 1)))
                    self.progress.setFormat("%p%")
                self.status.setText(text)
        elif isinstance(ev, LogMessage):
            if ev.level != "debug":
                self._log(f"[{ev.job}] {ev.text}")
        elif isinstance(ev, CheckpointSaved):
            self._log(f"[{ev.job}] checkpoint saved at step {ev.step}")
        elif isinstance(ev, JobFinished):
            self._show_latest()
            if main:
                if ev.status == "completed":
                    self.progress.setValue(self.progress.maximum())
                self.status.setText("Completed" if ev.status == "completed" else "Cancelled – a checkpoint was kept; Resume continues from it")
            self._log(f"[{ev.job}] {ev.status}")
        elif isinstance(ev, JobFailed):
            if main:
                self.status.setText(f"Failed: {ev.message.splitlines()[0] if ev.message else ''}")
            self._log(f"[{ev.job}] FAILED: {ev.message}")

    # ---------------------------------------------------------- internals
    def _show_progress(self, ev: TrainLog, prefix: str = "") -> None:
        if ev.max_steps:
            self.progress.setRange(0, ev.max_steps)
            self.progress.setFormat("%v / %m steps")
        self.progress.setValue(min(ev.step, self.progress.maximum()))
        parts = [f"{prefix}epoch {ev.epoch:.2f}" if prefix else f"Epoch {ev.epoch:.2f}", f"step {ev.step}/{ev.max_steps}"]
        if ev.samples_per_second:
            parts.append(f"{ev.samples_per_second:.1f} samples/s")
        parts.append(f"ETA {format_eta(ev.eta_seconds)}")
        if ev.loss is not None:
            parts.append(f"loss {ev.loss:.4f}")
        self.status.setText(" · ".join(parts))

    def _log(self, text: str) -> None:
        self.log.appendPlainText(f"{time.strftime('%H:%M:%S')}  {text}")


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _metric_text(m: dict[str, Any]) -> str:
    parts = [f"{k} {m[k]:.4f}" for k in ("loss", "accuracy", "macro_f1") if isinstance(m.get(k), (int, float))]
    return ", ".join(parts) or "(no metrics)"
