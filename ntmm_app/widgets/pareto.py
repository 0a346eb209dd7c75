"""The speed/accuracy frontier: batch-1 latency (log axis) against test macro-F1, one point per variant.

Marker area grows with the model's size; vertical bars are the 95 % intervals
of macro-F1; the line joins the variants no other beats on both (the engine's
:func:`api.pareto_front`); the recommended variant gets a ring. Points carry
numbers, listed under the chart (names would overlap where variants cluster),
and the recommended one its name. pyqtgraph's log mode does not carry over to
error bars, so the x values are log10 of the latency here, with tick labels in ms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ntmm_engine import api

from .live_plot import TitledPlot, show_grid

COLORS = {"teacher": "#444444", "classical": "#8c564b", "student": "#1f77b4"}
RING = "#d62728"
FRONTIER = "#2ca02c"


@dataclass
class FrontierPoint:
    name: str
    latency_ms: float
    macro_f1: float
    ci: list[float] | None = None
    size_mb: float | None = None

    @property
    def kind(self) -> str:
        if self.name == api.TEACHER:
            return "teacher"
        if self.name == api.CLASSICAL:
            return "classical"
        return "student"


def marker_sizes(sizes_mb: list[float | None], smallest: float = 9.0, largest: float = 38.0) -> list[float]:
    """Marker diameters in pixels so that the marker *area* is proportional to the size on disk."""
    known = [s for s in sizes_mb if s]
    top = max(known) if known else 1.0
    return [smallest + (largest - smallest) * math.sqrt(s / top) if s else smallest for s in sizes_mb]


class ParetoChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.plot = TitledPlot(self)  # a long title (timings unreliable) is elided, whole in the tooltip
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setLabel("bottom", "latency at batch 1, ms (log scale; lower is better)")
        self.plot.setLabel("left", "test macro-F1")
        show_grid(self.plot)
        lay.addWidget(self.plot, 1)
        self.legend = QLabel(self)
        self.legend.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.legend.setWordWrap(True)
        lay.addWidget(self.legend)
        self.setMinimumHeight(220)
        self.items: list[pg.GraphicsObject] = []
        self.points: list[FrontierPoint] = []
        self.front: list[str] = []
        self.recommended = ""
        self.unreliable = False
        self.set_points([])

    def set_points(self, points: list[FrontierPoint], recommended: str = "", unreliable: bool = False) -> None:
        for item in self.items:
            self.plot.removeItem(item)
        self.items = []
        self.points = [p for p in points if p.latency_ms and p.latency_ms > 0 and p.macro_f1 is not None]
        self.recommended, self.unreliable = recommended, unreliable
        self.front = api.pareto_front([(p.name, p.latency_ms, p.macro_f1) for p in self.points])
        title = "Speed and accuracy of every variant" + (" — timings unreliable" if unreliable else "")
        self.plot.set_title(title, color="#d62728" if unreliable else None)
        if not self.points:
            self.legend.setText("No timed variant yet.")
            return
        x = np.log10([p.latency_ms for p in self.points])
        y = np.asarray([p.macro_f1 for p in self.points], dtype=float)
        by = {p.name: (xi, yi) for p, xi, yi in zip(self.points, x, y)}
        if len(self.front) > 1:
            fx, fy = zip(*(by[n] for n in self.front))
            self._add(pg.PlotDataItem(fx, fy, pen=pg.mkPen(FRONTIER, width=2, style=Qt.PenStyle.DashLine)))
        keep = [i for i, p in enumerate(self.points) if p.ci and len(p.ci) == 2]
        if keep:
            lo = np.asarray([self.points[i].ci[0] for i in keep])
            hi = np.asarray([self.points[i].ci[1] for i in keep])
            self._add(pg.ErrorBarItem(x=x[keep], y=y[keep], bottom=y[keep] - lo, top=hi - y[keep], beam=0.03,
                                      pen=pg.mkPen("#777777", width=1.2)))
        sizes = marker_sizes([p.size_mb for p in self.points])
        brushes = [pg.mkBrush(COLORS[p.kind] + ("55" if unreliable else "bb")) for p in self.points]
        symbols = ["s" if p.kind == "classical" else "t" if p.kind == "teacher" else "o" for p in self.points]
        self.scatter = pg.ScatterPlotItem(x=x, y=y, size=sizes, brush=brushes, symbol=symbols, pen=pg.mkPen("#222222", width=1))
        self._add(self.scatter)
        if recommended in by:
            i = [p.name for p in self.points].index(recommended)
            self._add(pg.ScatterPlotItem(x=[x[i]], y=[y[i]], size=[sizes[i] + 12], symbol="o", brush=pg.mkBrush(0, 0, 0, 0),
                                         pen=pg.mkPen(RING, width=3)))
        for i, (p, xi, yi, d) in enumerate(zip(self.points, x, y, sizes), start=1):
            rec = p.name == recommended
            # the recommended name above its ring, clear of neighbours left and right; numbers beside their markers
            label = pg.TextItem(f"★ {i} {p.name}" if rec else str(i), anchor=(0.5, 1.0 + d / 30) if rec else (0, 0.5),
                                color=RING if rec else "#222222")
            label.setPos(xi if rec else xi + 0.012 * d / 9 + 0.03, yi)
            self._add(label)
        self._axes(x, y)
        names = "&nbsp;&nbsp; ".join(
            ("<b>" if p.name in self.front else "") + f"{i}&nbsp;{p.name}" + ("</b>" if p.name in self.front else "")
            for i, p in enumerate(self.points, start=1))
        self.legend.setText(
            f"{names}<br>"
            f"<span style='color:{COLORS['student']}'>●</span>&nbsp;students and variants&nbsp;&nbsp; "
            f"<span style='color:{COLORS['teacher']}'>▲</span>&nbsp;teacher&nbsp;&nbsp; "
            f"<span style='color:{COLORS['classical']}'>■</span>&nbsp;classical baseline&nbsp;&nbsp; "
            f"<span style='color:{FRONTIER}'>- -</span>&nbsp;frontier (<b>bold</b> above)&nbsp;&nbsp; "
            f"<span style='color:{RING}'>◯</span>&nbsp;recommended&nbsp;&nbsp; marker area ∝ size; bars: 95 % interval")

    def _add(self, item: pg.GraphicsObject) -> None:
        self.plot.addItem(item)
        self.items.append(item)

    def _axes(self, x: np.ndarray, y: np.ndarray) -> None:
        lo, hi = math.floor(float(x.min()) - 0.15), math.ceil(float(x.max()) + 0.3)  # room on the right for the numbers
        ticks = [(float(e), _ms(10.0 ** e)) for e in range(lo, hi + 1)]
        self.plot.getAxis("bottom").setTicks([ticks, [(math.log10(m * 10.0 ** e), "") for e in range(lo, hi) for m in range(2, 10)]])
        self.plot.setXRange(lo, hi, padding=0)
        lows = [p.ci[0] for p in self.points if p.ci and len(p.ci) == 2] + list(y)
        highs = [p.ci[1] for p in self.points if p.ci and len(p.ci) == 2] + list(y)
        span = max(max(highs) - min(lows), 0.05)
        self.plot.setYRange(max(min(lows) - 0.08 * span, 0.0), min(max(highs) + 0.15 * span, 1.0), padding=0)


def _ms(v: float) -> str:
    return f"{v:g}" if v >= 0.01 else f"{v:.0e}"
