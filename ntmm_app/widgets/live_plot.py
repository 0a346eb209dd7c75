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
import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase, QFontMetrics
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QPlainTextEdit,
    QProgressBar,
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

from ..workers import job_title
from .elided_label import ElidedLabel
from .metrics_view import MetricsView

REDRAW_MS = 100
CANCELLED_TEXT = "Cancelled – a checkpoint was kept; Resume continues from it."
SHORT_SERIES = 40  # series with fewer points get symbols: one point on a line-only curve is invisible
LEGEND_AT = {"top-right": ((1, 0), (1, 0), (-8, 8)), "top-left": ((0, 0), (0, 0), (8, 8)),
             "bottom-right": ((1, 1), (1, 1), (-8, -8)), "bottom-left": ((0, 1), (0, 1), (8, -8))}
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


class LogTickAxis(pg.AxisItem):
    """A log-scale axis whose labels never overlap: 1, 2 and 5 x 10^k over a narrow range, powers of ten
    over a wide one, written compactly ("2e-4").

    pyqtgraph labels every minor tick of a log axis (2..9 x 10^k), which over one or two decades
    overprints ("0.00020.00030.0004…"); it has no option to thin them, hence this override.
    """

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph's name)
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        low, high = self.range
        keep = {1} if high - low > 2.5 else {1, 2, 5}
        out = []
        for v in values:
            x = 10 ** v
            exponent = math.floor(v + 1e-9)
            mantissa = round(x / 10 ** exponent)
            out.append(_compact(mantissa, exponent) if mantissa in keep and abs(x - mantissa * 10 ** exponent) < 1e-9 * x * 10 else "")
        return out


def _compact(mantissa: int, exponent: int) -> str:
    if -2 <= exponent <= 3:
        return f"{mantissa * 10 ** exponent:g}"
    return f"{mantissa}e{exponent}"


class TitledPlot(pg.PlotWidget):
    """A PlotWidget whose title is elided ("Validation accuracy / ma…") to the width it has, with the
    whole title in the tooltip. pyqtgraph counts the full title in the plot's minimum width, so a long
    title in a narrow window pushed the axes and data out of the view instead."""

    TITLE_SIZE = "10pt"

    def __init__(self, parent: QWidget | None = None, title: str = "", **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._full_title = ""
        self._title_color: str | None = None
        self._shown: tuple[str, str | None] | None = None  # the (elided text, colour) drawn now
        # the y axis widens when its labels change (class names): the title's room shrinks with it
        self.plotItem.vb.sigResized.connect(lambda _vb: self.fit_title())
        # our axes carry scores, losses and counts: a macro-F1 of 0.4 must read 0.4, not 400 (x0.001)
        for side in ("left", "bottom"):
            self.getAxis(side).enableAutoSIPrefix(False)
        if title:
            self.set_title(title)

    def set_title(self, title: str, color: str | None = None) -> None:
        self._full_title, self._title_color = title, color
        self.fit_title()

    def full_title(self) -> str:
        """The title as set (what is shown may be elided)."""
        return self._full_title

    def fit_title(self) -> None:
        if not self.__dict__.get("_full_title") or getattr(self, "plotItem", None) is None:
            return  # pyqtgraph resizes once before __init__ has set the title, and again while closing
        label = self.plotItem.titleLabel
        if not shiboken6.isValid(label.item):
            return  # closing: pyqtgraph has deleted the title's text item before the last resize
        font = label.item.font()
        font.setPointSizeF(float(self.TITLE_SIZE.removesuffix("pt")))
        metrics = QFontMetrics(font)
        # the title sits above the data column only: the y axis and the margins are not its room
        axes = sum(self.plotItem.getAxis(a).width() for a in ("left", "right") if self.plotItem.getAxis(a).isVisible())
        room = max(self.width() - int(axes) - 24, 40)
        text = metrics.elidedText(self._full_title, Qt.TextElideMode.ElideRight, room)
        if (text, self._title_color) != self._shown:
            self._shown = (text, self._title_color)
            self.setTitle(text, size=self.TITLE_SIZE, **({"color": self._title_color} if self._title_color else {}))
        self.setToolTip(self._full_title if text != self._full_title else "")

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.fit_title()
        super().resizeEvent(event)


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


class LivePlot(TitledPlot):
    """A plot of named series that redraws on a timer, not per point."""

    def __init__(self, title: str, y_label: str = "", x_label: str = "step", parent: QWidget | None = None,
                 legend: str = "top-right") -> None:
        """``legend``: the corner the newest points do not reach (rising scores: bottom-right)."""
        super().__init__(parent, title=title)
        self.setLabel("bottom", x_label)
        if y_label:
            self.setLabel("left", y_label)
        show_grid(self)
        self.setClipToView(True)
        self.setDownsampling(auto=True, mode="peak")
        self.setMenuEnabled(False)
        # Translucent, and draggable with the mouse (pyqtgraph's LegendItem), so no point stays hidden.
        self.legend = self.addLegend(labelTextSize="8pt", brush=(255, 255, 255, 150), pen=(200, 200, 200),
                                     verSpacing=-6)
        item_anchor, parent_anchor, offset = LEGEND_AT[legend]
        self.legend.anchor(item_anchor, parent_anchor, offset)
        self.legend.setToolTip("Drag to move the legend")
        self.legend.setVisible(False)  # shown with the first series
        self.setMinimumHeight(110)
        self.series: dict[str, tuple[SeriesBuffer, pg.PlotDataItem]] = {}
        self._dirty: set[str] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.redraw)
        self.redraws = 0
        self.fixed_y: tuple[float, float] | None = None  # scores: always 0..1

    def set_fixed_y(self, low: float, high: float) -> None:
        self.fixed_y = (low, high)
        self.setYRange(low, high, padding=0.02)

    def ensure_series(self, key: str, label: str | None = None, color: str | None = None,
                      dashed: bool = False, symbol: str | None = None) -> None:
        if key in self.series:
            return
        color = color or COLORS.get(label or key) or FALLBACK[len(self.series) % len(FALLBACK)]
        pen = pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
        item = self.plot([], [], pen=pen, name=label or key, symbol=symbol or "o", symbolSize=6 if symbol else 4,
                         symbolBrush=color, symbolPen=color, skipFiniteCheck=True)
        item.auto_symbol = symbol is None  # dots while the series is short, a plain line once it is long
        self.series[key] = (SeriesBuffer(), item)
        if len(self.series) > 4:
            self.legend.setColumnCount(2)  # many series (distillation and its baseline): a flat legend

    def append(self, key: str, x: float, y: float | None, **style: Any) -> None:
        if y is None or not math.isfinite(y):
            return
        self.ensure_series(key, **style)
        self.series[key][0].append(x, y)
        self._dirty.add(key)
        if not self._timer.isActive():
            self._timer.start()

    def redraw(self) -> None:
        if getattr(self, "plotItem", None) is None:
            return  # the timer fired after the plot was closed (pyqtgraph drops plotItem on close)
        for key in self._dirty:
            buf, item = self.series[key]
            if item.auto_symbol and (buf.n < SHORT_SERIES) != (item.opts["symbol"] is not None):
                item.setSymbol("o" if buf.n < SHORT_SERIES else None)
            item.setData(buf.x, buf.y, skipFiniteCheck=True)
        self._dirty.clear()
        self.legend.setVisible(bool(self.series))  # no empty legend box on an empty plot
        self._widen_single_values()
        self.redraws += 1

    def _widen_single_values(self) -> None:
        """Autorange around one value gives value ± 0.5 (an LR of 2e-4 on an axis from -400e-3 to 400e-3):
        start such an axis from 0 instead, so the first point sits in a readable range."""
        vb = self.getViewBox()
        xs = [b.x for b, _ in self.series.values() if b.n]
        if not xs:
            return
        for axis, values, auto in (("x", np.concatenate(xs), vb.state["autoRange"][0]),
                                   ("y", np.concatenate([b.y for b, _ in self.series.values() if b.n]),
                                    vb.state["autoRange"][1] and not self.fixed_y)):
            if not auto or values.max() != values.min():
                continue
            v = float(values[0])
            low, high = (0.0, 1.5 * v) if v > 0 else (1.5 * v, 0.0) if v < 0 else (-1.0, 1.0)
            (vb.setXRange if axis == "x" else vb.setYRange)(low, high, padding=0.05, update=False)
            vb.enableAutoRange(axis=axis, enable=True)  # keep following the data when the next point comes

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
        self._dirty.clear()
        self.legend.setColumnCount(1)
        self.legend.setVisible(False)
        # a new run or project starts from its own data, not from where the last one was zoomed to
        self.getViewBox().enableAutoRange(x=True, y=not self.fixed_y)
        if self.fixed_y:
            self.setYRange(*self.fixed_y, padding=0.02)


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
        # a long status must not widen the page: it is elided with "…", the tooltip has it whole
        self.status = ElidedLabel("Not started", self)
        self.status.setObjectName("progressText")
        row.addWidget(self.progress, 2)
        row.addWidget(self.status, 3)
        lay.addLayout(row)

        plots = QWidget(self)
        grid = QGridLayout(plots)
        grid.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = LivePlot("Loss", "loss")
        self.metric_plot = LivePlot("Validation accuracy / macro-F1", "score", legend="bottom-right")
        self.metric_plot.set_fixed_y(0, 1)
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
            self.progress.setValue(min(ev.start_step, max(ev.total_steps, 1)))  # a resumed run: its checkpoint's step
            self.progress.setFormat("%v / %m steps")
            self._log(f"[{ev.job}] training {ev.total_steps} steps on {ev.device} ({ev.precision})"
                      + (f", resuming from {ev.resumed_from}" if ev.resumed_from else ""))
        elif isinstance(ev, Progress):
            if not replay:
                # setup phases ("loading model") read as words; counts only for real work (texts cached)
                text = f"{job_title(ev.job)}: {ev.phase}" + (f" ({ev.done:,}/{ev.total:,})" if ev.total > 10 else "")
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
            done, total = ev.summary.get("steps_done"), ev.summary.get("total_steps")
            if main:
                if ev.status == "completed":
                    self.progress.setValue(self.progress.maximum())
                    self.status.setText("Completed")
                else:
                    if isinstance(done, int) and isinstance(total, int) and total:
                        # the step the run stopped at, not the last logged one (the bar and the log agree)
                        self.progress.setRange(0, total)
                        self.progress.setValue(min(done, total))
                    self.status.setText(CANCELLED_TEXT)
            if ev.status == "completed" or done is None:  # a cancelled training run has logged "cancelled at step …"
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
