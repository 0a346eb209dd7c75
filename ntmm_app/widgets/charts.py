"""Static charts: grouped horizontal bars (per class / per variant) and a histogram."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .live_plot import FALLBACK, TitledPlot, show_grid

SERIES_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"] + FALLBACK


class BarChart(QWidget):
    """Horizontal bars: one row per category, one coloured bar per series.

    Horizontal so long class and variant names are readable on the left axis.
    The legend is a label above the plot (a legend inside it would cover bars).
    """

    def __init__(self, title: str, x_label: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.legend = QLabel(self)
        self.legend.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.legend.hide()
        self.plot = TitledPlot(self, title=title)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.legend)
        if x_label:
            self.plot.setLabel("bottom", x_label)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        show_grid(self.plot, y=False)
        self.plot.getViewBox().invertY(True)
        self.setMinimumHeight(160)
        self.items: list[pg.GraphicsObject] = []
        self.intervals: dict[str, list] = {}
        self.categories: list[str] = []
        self.series: dict[str, list[float]] = {}

    def set_data(self, categories: Sequence[str], series: dict[str, Sequence[float]],
                 highlight: Sequence[bool] | None = None,
                 intervals: dict[str, Sequence[Sequence[float] | None]] | None = None) -> None:
        """``intervals``: per series, a (low, high) pair per bar (or None), drawn as error bars."""
        for item in self.items:
            self.plot.removeItem(item)
        self.items = []
        self.categories = list(categories)
        self.series = {k: [float(v) if v is not None else 0.0 for v in vals] for k, vals in series.items()}
        n_series = max(len(series), 1)
        height = 0.8 / n_series
        y0 = np.arange(len(categories), dtype=float)
        for i, (name, vals) in enumerate(self.series.items()):
            color = SERIES_COLORS[i % len(SERIES_COLORS)]
            brushes = [pg.mkBrush(color)] * len(vals)
            pens = [pg.mkPen(color)] * len(vals)
            if highlight is not None:  # flagged variants get a red outline
                pens = [pg.mkPen("#d62728", width=3) if h else pg.mkPen(color) for h in highlight]
            y = y0 - 0.4 + height * (i + 0.5)
            item = pg.BarGraphItem(x0=np.zeros(len(vals)), y=y, height=height * 0.9, width=np.asarray(vals),
                                   brushes=brushes, pens=pens)
            self.plot.addItem(item)
            self.items.append(item)
            bars = (intervals or {}).get(name)
            if bars:
                keep = [k for k, iv in enumerate(bars) if iv]
                if keep:
                    v = np.asarray([vals[k] for k in keep])
                    err = pg.ErrorBarItem(x=v, y=y[keep], left=v - np.asarray([bars[k][0] for k in keep]),
                                          right=np.asarray([bars[k][1] for k in keep]) - v, beam=height * 0.35,
                                          pen=pg.mkPen("#333333", width=1.5))
                    self.plot.addItem(err)
                    self.items.append(err)
        self.intervals = {k: list(v) for k, v in (intervals or {}).items()}
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(
            f"<span style='color:{SERIES_COLORS[i % len(SERIES_COLORS)]}'>&#9632;</span>&nbsp;{name}"
            for i, name in enumerate(self.series)))
        self.legend.setVisible(len(self.series) > 1)
        self._label_categories()
        if len(categories):
            highs = [iv[1] for ivs in (intervals or {}).values() for iv in ivs if iv]
            top = max([max(v) for v in self.series.values() if v] + highs + [1e-9])
            self.plot.setYRange(-0.6, len(categories) - 0.4, padding=0)
            self.plot.setXRange(0, top * 1.08, padding=0)
        QTimer.singleShot(0, self.plot.fit_title)  # the category labels changed the axis width: the title's room

    def clear_data(self) -> None:
        self.set_data([], {})

    def _label_categories(self) -> None:
        """Category names on the axis, elided to at most 40 % of the chart's width (long class names in a
        narrow chart pushed the bars out of view)."""
        metrics = QFontMetrics(self.plot.getAxis("left").font())
        room = max(60, int(0.4 * self.width()))
        self.plot.getAxis("left").setTicks([[(float(i), metrics.elidedText(_short(c), Qt.TextElideMode.ElideRight, room))
                                             for i, c in enumerate(self.categories)]])

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self.categories:
            self._label_categories()


class Histogram(TitledPlot):
    """A histogram with an optional labelled vertical marker (max_length)."""

    def __init__(self, title: str, x_label: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent, title=title)
        self.setLabel("bottom", x_label)
        self.setLabel("left", "texts")
        self.setMenuEnabled(False)
        show_grid(self)
        self.setMinimumHeight(160)
        self.curve = self.plot([], [], stepMode="center", fillLevel=0, brush=pg.mkBrush(31, 119, 180, 120),
                               pen=pg.mkPen("#1f77b4"))
        self.marker = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#d62728", width=2, style=Qt.PenStyle.DashLine),
                                      label="max tokens", labelOpts={"position": 0.92, "color": "#d62728", "anchors": [(1, 0), (1, 0)]})
        self.addItem(self.marker)
        self.marker.hide()
        self.marker_value: float | None = None
        self.values = np.empty(0)

    def set_values(self, values: Sequence[float], bins: int = 40) -> None:
        self.values = np.asarray(values, dtype=float)
        if len(self.values) == 0:
            self.curve.setData([], [])
            return
        hi = max(float(self.values.max()), self.marker_value or 0.0, 1.0)
        counts, edges = np.histogram(self.values, bins=bins, range=(0, hi))
        self.curve.setData(edges, counts)
        self.setXRange(0, hi * 1.04, padding=0)

    def set_marker(self, value: float | None) -> None:
        self.marker_value = value
        if value is None:
            self.marker.hide()
            return
        self.marker.setValue(value)
        self.marker.label.setFormat(f"max tokens {value:g}")
        self.marker.show()
        if len(self.values):
            self.set_values(self.values)


def _short(text: str, n: int = 22) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
