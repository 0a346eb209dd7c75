"""Final metrics: accuracy / macro-F1, a per-class table and a shaded confusion matrix."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ntmm_engine.api import format_score

from .elided_label import ElidedLabel


class NumberItem(QTableWidgetItem):
    """Sorts by the number in UserRole, not by the displayed text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.data(Qt.ItemDataRole.UserRole), other.data(Qt.ItemDataRole.UserRole)
        if isinstance(a, float) and isinstance(b, float):
            return a < b
        return super().__lt__(other)


def number_item(value: Any, spec: str = ".3f") -> QTableWidgetItem:
    """A right-aligned, read-only table cell that sorts numerically."""
    item = NumberItem()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        item.setData(Qt.ItemDataRole.DisplayRole, format(value, spec))
        item.setData(Qt.ItemDataRole.UserRole, float(value))
    else:
        item.setText("-" if value is None else str(value))
    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


def score_item(value: Any, interval: Any = None, digits: int = 3) -> QTableWidgetItem:
    """A score with its 95 % interval, "0.650 (0.600–0.700)"; sorts by the score."""
    item = number_item(value, f".{digits}f")
    if isinstance(value, (int, float)) and interval:
        item.setData(Qt.ItemDataRole.DisplayRole, format_score(value, interval, digits))
        item.setToolTip("score (95 % bootstrap interval over the split's texts)")
    return item


def text_item(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


def fit_rows(table: QTableWidget, rows: int = 6) -> None:
    """Make ``table`` at least tall enough for its header and ``rows`` rows (fewer if it has fewer), so a
    splitter or layout cannot squeeze a result to one row with the rest a scroll away."""
    n = min(table.rowCount(), rows)
    # size hints, not heights: the table may sit in a tab not shown yet, whose header is 0 px high so far
    height = table.horizontalHeader().sizeHint().height() if not table.horizontalHeader().isHidden() else 0
    height += sum(table.rowHeight(i) for i in range(n)) + 2 * table.frameWidth()
    height += table.horizontalScrollBar().sizeHint().height()  # room for it, should the columns not fit
    table.setMinimumHeight(height + 2)


def read_only_table(parent: QWidget, columns: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(columns), parent)
    t.setHorizontalHeaderLabels(columns)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setAlternatingRowColors(True)
    t.verticalHeader().setVisible(False)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    # No sort until the user clicks a header (setSortingEnabled would sort by column 0 at once).
    t.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
    return t


class MetricsView(QWidget):
    """Shows one split's metrics dict (as produced by ``classification_metrics``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # The content scrolls: in a low tab (1024x700) the wrapped summary and the tables' minimum heights
        # would otherwise push the tables past the tab's edge.
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        area = QScrollArea(self)
        area.setWidgetResizable(True)
        area.setFrameShape(QFrame.Shape.NoFrame)
        content = QWidget(area)
        area.setWidget(content)
        outer.addWidget(area)
        lay = QVBoxLayout(content)
        self.summary = QLabel("No final metrics yet.", self)
        self.summary.setObjectName("metricsSummary")
        self.summary.setWordWrap(True)  # a long line (scores, intervals, the baseline) must not set the page's width
        lay.addWidget(self.summary)
        row = QHBoxLayout()
        self.per_class = read_only_table(self, ["Class", "Precision", "Recall", "F1", "Support"])
        self.confusion = QTableWidget(0, 0, self)
        self.confusion.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.confusion.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.confusion.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.confusion.setToolTip("Confusion matrix: rows are the true class, columns the predicted class.")
        left = QVBoxLayout()
        left.addWidget(QLabel("Per class", self))
        left.addWidget(self.per_class)
        right = QVBoxLayout()
        # elided, not wrapped: a second line would push the matrix out of a low tab
        right.addWidget(ElidedLabel("Confusion matrix (rows: true, columns: predicted)", self))
        right.addWidget(self.confusion)
        row.addLayout(left, 1)
        row.addLayout(right, 1)
        lay.addLayout(row, 1)

    def clear(self) -> None:
        self.summary.setText("No final metrics yet.")
        self.per_class.setRowCount(0)
        self.confusion.setRowCount(0)
        self.confusion.setColumnCount(0)
        for table in (self.per_class, self.confusion):
            table.setMinimumHeight(0)

    def show_metrics(self, m: dict[str, Any] | None, title: str = "Test split",
                     baseline: dict[str, Any] | None = None) -> None:
        """One split's metrics; ``baseline``: the classical baseline's on the same split, shown beside them."""
        if not m:
            self.clear()
            return

        def line(name: str, mm: dict[str, Any]) -> str:
            parts = [name + ":"]
            for key, label in (("accuracy", "accuracy"), ("macro_f1", "macro-F1")):
                if isinstance(mm.get(key), (int, float)):
                    parts.append(f"{label} {format_score(mm[key], mm.get(key + '_ci'))}")
            return "  ".join(parts)
        text = line(title, m)
        if baseline:
            text += "<br><span style='font-weight:normal'>" + line("Classical baseline (TF-IDF + logistic regression)",
                                                                    baseline) + "</span>"
        self.summary.setText(text)
        self.summary.setToolTip("In brackets: 95 % bootstrap intervals over the split's texts.")
        rows = m.get("per_class") or []
        self.per_class.setSortingEnabled(False)
        self.per_class.setRowCount(len(rows))
        for i, r in enumerate(rows):
            self.per_class.setItem(i, 0, text_item(str(r.get("label", i))))
            for j, key in enumerate(("precision", "recall", "f1"), start=1):
                self.per_class.setItem(i, j, number_item(r.get(key)))
            self.per_class.setItem(i, 4, number_item(r.get("support"), "d"))
        cm = m.get("confusion_matrix") or []
        names = [str(r.get("label", i)) for i, r in enumerate(rows)] or [str(i) for i in range(len(cm))]
        shade_matrix(self.confusion, cm, names, lambda a, b: f"true {a}, predicted {b}")
        for table in (self.per_class, self.confusion):
            table.resizeRowsToContents()
            fit_rows(table)


def shade_matrix(table: QTableWidget, matrix: list[list[int]], names: list[str], describe) -> None:
    """Fill a square count table: the diagonal green, the rest red, each as dark as its share of the row;
    ``describe(row_name, column_name)`` starts each cell's tooltip."""
    table.setRowCount(len(matrix))
    table.setColumnCount(len(matrix))
    table.setVerticalHeaderLabels(names)
    table.setHorizontalHeaderLabels([n if len(n) <= 10 else n[:9] + "…" for n in names])
    for i, line in enumerate(matrix):
        total = sum(line) or 1
        for j, v in enumerate(line):
            item = number_item(int(v), "d")
            share = v / total
            base = QColor(46, 139, 87) if i == j else QColor(205, 60, 60)
            base.setAlphaF(min(0.85, 0.1 + 0.75 * share) if v else 0.0)
            item.setBackground(base)
            item.setToolTip(f"{describe(names[i], names[j] if j < len(names) else j)}: {v} ({share:.0%} of the row)")
            table.setItem(i, j, item)
