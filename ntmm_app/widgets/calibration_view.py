"""Calibration of every variant: a reliability diagram (pyqtgraph) and the ECE / Brier / NLL table (Optimize, Benchmark)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from ntmm_engine import api

from .live_plot import TitledPlot, show_grid
from .metrics_view import number_item, read_only_table, text_item

CALIBRATED = "#1f77b4"
RAW = "#ff7f0e"


class ReliabilityChart(QWidget):
    """Observed accuracy against confidence per equal-width bin, the diagonal (perfect calibration), and below it
    how many texts fall in each bin. Bars for the calibrated probabilities, a line for the raw ones."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.plot = TitledPlot(self)  # the title (model, ECE, T) is elided to the plot's width
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setLabel("left", "observed accuracy")
        self.plot.setXRange(0, 1, padding=0.01)
        self.plot.setYRange(0, 1.04, padding=0)
        show_grid(self.plot)
        self.plot.addLegend(offset=(8, 8))
        self.counts_plot = pg.PlotWidget(self)
        self.counts_plot.setMenuEnabled(False)
        self.counts_plot.setMouseEnabled(x=False, y=False)
        self.counts_plot.setLabel("left", "texts")
        self.counts_plot.setLabel("bottom", "confidence (top-class probability)")
        self.counts_plot.setXLink(self.plot)
        self.counts_plot.setMinimumHeight(110)
        self.counts_plot.setMaximumHeight(150)
        show_grid(self.counts_plot, x=False)
        lay.addWidget(self.plot, 3)
        lay.addWidget(self.counts_plot, 1)
        self.setMinimumHeight(320)
        self.diagonal = self.plot.plot([0, 1], [0, 1], pen=pg.mkPen("#777777", width=1.5, style=Qt.PenStyle.DashLine),
                                       name="perfect calibration")
        self.items: list[Any] = []
        self.shown: dict[str, api.Reliability] = {}

    def set_reliability(self, calibrated: api.Reliability | None, raw: api.Reliability | None = None,
                        title: str = "") -> None:
        for item in self.items:
            (self.counts_plot if getattr(item, "_counts", False) else self.plot).removeItem(item)
        self.items = []
        self.shown = {k: v for k, v in (("calibrated", calibrated), ("raw", raw)) if v is not None}
        self.plot.set_title(title)
        if calibrated is None:
            return
        edges = np.asarray(calibrated.edges)
        centers, width = (edges[:-1] + edges[1:]) / 2, float(edges[1] - edges[0]) if len(edges) > 1 else 1.0
        acc = np.asarray([a if a is not None else 0.0 for a in calibrated.accuracy])
        filled = np.asarray([c > 0 for c in calibrated.counts])
        bars = pg.BarGraphItem(x=centers[filled], height=acc[filled], width=width * 0.9, brush=pg.mkBrush(31, 119, 180, 170),
                               pen=pg.mkPen(CALIBRATED), name="calibrated (temperature-scaled)")
        self._add(bars)
        if raw is not None:  # the same bins before temperature scaling: a line through each bin's accuracy
            keep = [i for i, c in enumerate(raw.counts) if c]
            line = pg.PlotDataItem([raw.confidence[i] for i in keep], [raw.accuracy[i] for i in keep],
                                   pen=pg.mkPen(RAW, width=2), symbol="o", symbolSize=6, symbolBrush=RAW, symbolPen=RAW,
                                   name="before temperature scaling")
            self._add(line)
        counts = np.asarray(calibrated.counts, dtype=float)
        hist = pg.BarGraphItem(x=centers, height=counts, width=width * 0.9, brush=pg.mkBrush(31, 119, 180, 120),
                               pen=pg.mkPen(CALIBRATED))
        self._add(hist, counts_plot=True)
        top = max(float(counts.max()) if len(counts) else 1.0, 1.0)
        for x, n in zip(centers, calibrated.counts):
            if n:
                label = pg.TextItem(str(n), color="#333333", anchor=(0.5, 1.0))
                label.setPos(float(x), float(n))
                self._add(label, counts_plot=True)
        self.counts_plot.setYRange(0, top * 1.8, padding=0)  # room for the count above the tallest bar
        for plot in (self.plot, self.counts_plot):  # confidence is on [0, 1] whatever the bars' extent
            plot.enableAutoRange(x=False)
            plot.setXRange(0, 1, padding=0.02)

    def _add(self, item: Any, counts_plot: bool = False) -> None:
        item._counts = counts_plot
        (self.counts_plot if counts_plot else self.plot).addItem(item)
        self.items.append(item)


class CalibrationPanel(QWidget):
    """Every model's temperature and ECE / Brier / NLL before → after, and the reliability diagram of one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.note = QLabel("No calibration figures yet.")
        self.note.setWordWrap(True)
        self.note.setObjectName("hint")
        lay.addWidget(self.note)
        split = QSplitter(Qt.Orientation.Vertical)
        self.table = read_only_table(self, ["Model", "Temperature", "Split", "ECE", "Brier", "NLL"])
        self.table.setToolTip("Each score before → after temperature scaling. Before: the softmax of the logits as they are; "
                              "after: the logits divided by the model's temperature (fitted on validation by minimising "
                              "NLL). ECE: 15 equal-width bins on the top probability; Brier: summed over classes; NLL: "
                              "mean negative log-probability of the true class. Lower is better for all three.")
        split.addWidget(self.table)
        chart_box = QWidget()
        cl = QVBoxLayout(chart_box)
        cl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.model_combo = QComboBox()
        self.model_combo.setMinimumContentsLength(14)
        self.model_combo.setToolTip("The model whose reliability diagram is shown")
        model_label = QLabel("Reliability diagram of &model")
        model_label.setBuddy(self.model_combo)
        self.split_combo = QComboBox()
        split_label = QLabel("&split")
        split_label.setBuddy(self.split_combo)
        self.raw_check = QCheckBox("&Before scaling too")
        self.raw_check.setToolTip("Also draw each bin's accuracy before temperature scaling (a line)")
        self.raw_check.setChecked(True)
        # two rows, so the panel fits beside the settings in a 1024-pixel window
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        row.addWidget(model_label)
        row.addWidget(self.model_combo, 1)
        row2 = QHBoxLayout()
        for w in (split_label, self.split_combo, self.raw_check):
            row2.addWidget(w)
        row2.addStretch(1)
        cl.addLayout(row)
        cl.addLayout(row2)
        self.chart = ReliabilityChart(chart_box)
        cl.addWidget(self.chart, 1)
        split.addWidget(chart_box)
        split.setStretchFactor(1, 2)
        lay.addWidget(split, 1)
        self.models: dict[str, api.Calibration] = {}
        self.model_combo.currentIndexChanged.connect(lambda _i: self._show_chart())
        self.split_combo.currentIndexChanged.connect(lambda _i: self._show_chart())
        self.raw_check.toggled.connect(lambda _b: self._show_chart())

    def set_models(self, models: dict[str, api.Calibration | None], note: str = "") -> None:
        self.models = {k: v for k, v in models.items() if v is not None and v.splits}
        self.note.setText(note or ("" if self.models else "No calibration figures yet."))
        self.note.setVisible(bool(self.note.text()))
        rows = [(name, split, c) for name, c in self.models.items() for split in ("validation", "test") if split in c.splits]
        t = self.table
        t.setSortingEnabled(False)
        t.setRowCount(len(rows))
        for i, (name, split, c) in enumerate(rows):
            raw, cal = c.scores(split, False), c.scores(split, True)
            t.setItem(i, 0, text_item(name))
            t.setItem(i, 1, number_item(c.temperature, ".3f"))
            t.item(i, 1).setToolTip({"validation": "fitted on the validation split", "stored": "the model's own temperature",
                                     "none": "the model has no temperature (1)"}.get(c.fitted_on, c.fitted_on))
            t.setItem(i, 2, text_item(split))
            for j, (a, b) in enumerate(((raw.ece, cal.ece), (raw.brier, cal.brier), (raw.nll, cal.nll)), start=3):
                item = number_item(b, ".4f")  # sorts by the calibrated score
                item.setData(Qt.ItemDataRole.DisplayRole, f"{a:.4f} → {b:.4f}")
                t.setItem(i, j, item)
        current = self.model_combo.currentText()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.addItems(list(self.models))
        if current in self.models:
            self.model_combo.setCurrentText(current)
        self.model_combo.blockSignals(False)
        splits = sorted({s for c in self.models.values() for s in c.splits}, key=lambda s: (s != "test", s))
        chosen = self.split_combo.currentText()
        self.split_combo.blockSignals(True)
        self.split_combo.clear()
        self.split_combo.addItems(splits)
        if chosen in splits:
            self.split_combo.setCurrentText(chosen)
        self.split_combo.blockSignals(False)
        self._show_chart()

    def select(self, name: str) -> None:
        if name in self.models:
            self.model_combo.setCurrentText(name)

    def _show_chart(self) -> None:
        c = self.models.get(self.model_combo.currentText())
        split = self.split_combo.currentText()
        if c is None or split not in c.splits:
            self.chart.set_reliability(None)
            return
        raw, cal = c.scores(split, False), c.scores(split, True)
        title = (f"{self.model_combo.currentText()}, {split} split: ECE {raw.ece:.3f} → {cal.ece:.3f} "
                 f"(T = {c.temperature:.2f})")
        self.chart.set_reliability(cal.reliability, raw.reliability if self.raw_check.isChecked() else None, title)
