"""Saying "not sure": a minimum confidence (``predict.min_confidence``) chosen by hand or from a target accuracy,
with the model's risk–coverage curve on validation (Predict step)."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QGridLayout, QGroupBox, QLabel, QPushButton, QWidget

from ntmm_engine import api
from ntmm_engine.core.config import field_help

from .live_plot import show_grid


class RiskCoverageChart(pg.PlotWidget):
    """Accuracy of the kept predictions against the share kept, as the threshold rises (right to left)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.setLabel("bottom", "share of texts kept")
        self.setLabel("left", "accuracy kept")
        show_grid(self)
        self.setMinimumSize(180, 170)  # pyqtgraph's own minimum is wider than the side panel
        self.curve = self.plot([], [], pen=pg.mkPen("#1f77b4", width=2))
        self.marker = pg.ScatterPlotItem(size=10, brush=pg.mkBrush("#d62728"), pen=pg.mkPen("#d62728"))
        self.addItem(self.marker)
        self.cut = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#d62728", width=1, style=Qt.PenStyle.DashLine))
        self.addItem(self.cut)
        self.cut.hide()
        self.points: tuple[list[float], list[float]] = ([], [])

    def set_curve(self, curve: api.RiskCoverage | None) -> None:
        x, y = (list(curve.coverage), list(curve.accuracy)) if curve is not None else ([], [])
        self.points = (x, y)
        self.curve.setData(x, y)
        if y:
            lo = min(y)
            self.setYRange(max(0.0, lo - 0.05), 1.0, padding=0.02)
            self.setXRange(0, 1, padding=0.02)

    def set_marker(self, coverage: float | None, accuracy: float | None) -> None:
        if coverage is None or accuracy is None:
            self.marker.setData([], [])
            self.cut.hide()
            return
        self.marker.setData([coverage], [accuracy])
        self.cut.setValue(coverage)
        self.cut.show()


class ConfidenceControl(QGroupBox):
    """The minimum confidence: below it a prediction is "uncertain — review". ``changed`` carries the new value."""

    changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Not sure? Review below a confidence", parent)
        lay = QGridLayout(self)
        self.spin = QDoubleSpinBox()
        self.spin.setRange(0.0, 1.0)
        self.spin.setDecimals(4)
        self.spin.setSingleStep(0.01)
        self.spin.setSpecialValueText("off")
        self.spin.setToolTip(field_help("predict", "min_confidence"))
        spin_label = QLabel("Mi&n. confidence")
        spin_label.setBuddy(self.spin)
        self.target = QDoubleSpinBox()
        self.target.setRange(50.0, 99.9)
        self.target.setDecimals(1)
        self.target.setSingleStep(0.5)
        self.target.setSuffix(" %")
        self.target.setValue(95.0)
        self.target.setToolTip("Accuracy the kept predictions should reach on the model's validation split")
        target_label = QLabel("Tar&get accuracy")
        target_label.setBuddy(self.target)
        self.apply = QPushButton("&Use it")
        self.apply.setToolTip("Set the minimum confidence to the lowest threshold whose kept validation predictions "
                              "reach the target accuracy")
        self.target_text = QLabel()
        self.target_text.setWordWrap(True)
        self.target_text.setObjectName("hint")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.chart = RiskCoverageChart(self)
        lay.addWidget(spin_label, 0, 0)
        lay.addWidget(self.spin, 0, 1, 1, 2)
        lay.addWidget(target_label, 1, 0)
        lay.addWidget(self.target, 1, 1)
        lay.addWidget(self.apply, 1, 2)
        lay.addWidget(self.target_text, 2, 0, 1, 3)
        lay.addWidget(self.status, 3, 0, 1, 3)
        lay.addWidget(self.chart, 4, 0, 1, 3)
        lay.setRowStretch(4, 1)
        lay.setColumnStretch(1, 1)
        self.curve: api.RiskCoverage | None = None
        self.spin.valueChanged.connect(self._spin_changed)
        self.target.valueChanged.connect(lambda _v: self._describe_target())
        self.apply.clicked.connect(self.use_target)
        self.set_curve(None)

    @property
    def value(self) -> float:
        return float(self.spin.value())

    def set_value(self, value: float) -> None:
        """Show ``value`` (a project's setting) without emitting ``changed``."""
        self.spin.blockSignals(True)
        self.spin.setValue(float(value))
        self.spin.blockSignals(False)
        self._update_status()

    def set_curve(self, curve: api.RiskCoverage | None, model: str = "") -> None:
        """The loaded model's risk–coverage curve on validation (None: it was not calibrated by NTMM)."""
        self.curve = curve if curve is not None and curve.thresholds else None
        self.chart.set_curve(self.curve)
        self.chart.setTitle("Risk–coverage on validation", size="9pt")
        self.chart.setToolTip(f"{model}: accuracy of the predictions kept against the share kept, as the minimum "
                              "confidence rises (right to left)" if model else "")
        self.target.setEnabled(self.curve is not None)
        self.apply.setEnabled(self.curve is not None)
        self._describe_target()
        self._update_status()

    def use_target(self) -> None:
        if self.curve is None:
            return
        choice = self.curve.threshold_for(self.target.value() / 100)
        if choice is not None:
            # Rounded down to the box's 4 decimals, so the texts at the threshold stay kept (up would drop them);
            # the status line then says what this very value keeps.
            self.spin.setValue(math.floor(choice[0] * 1e4) / 1e4)

    def _spin_changed(self, value: float) -> None:
        self._update_status()
        self.changed.emit(float(value))

    def _describe_target(self) -> None:
        self.target_text.setText(self.curve.describe(self.target.value() / 100).capitalize() + "."
                                 if self.curve is not None else "This model has no risk–coverage curve (it was not "
                                 "calibrated by NTMM); the minimum confidence still applies.")

    def _update_status(self) -> None:
        v = self.value
        if v <= 0:
            self.status.setText("Off: no prediction is marked.")
            self.chart.set_marker(None, None)
            return
        if self.curve is None:
            self.status.setText(f"Predictions below {v:.3f} are marked “{api.UNCERTAIN}”.")
            self.chart.set_marker(None, None)
            return
        coverage, accuracy = self.curve.at(v)
        kept = f"keeps {coverage:.0%} of validation texts" + (f" at {accuracy:.1%} accuracy" if accuracy is not None else "")
        self.status.setText(f"Below {v:.3f}: “{api.UNCERTAIN}”; {kept}.")
        self.chart.set_marker(coverage if accuracy is not None else None, accuracy)
