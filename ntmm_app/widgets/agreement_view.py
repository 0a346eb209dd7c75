"""Teacher-vs-student agreement: which classes compression moves, next to the texts whose label changed.

Rows are the reference's prediction (the teacher, or the fp32 student), columns the compressed model's; a click
on a cell lists that cell's texts (Distill and Optimize steps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from .metrics_view import read_only_table, shade_matrix, text_item


@dataclass
class Agreement:
    """One comparison: ``matrix[i][j]`` texts the ``reference`` labelled i and ``model`` labelled j."""

    model: str
    reference: str  # "teacher" | "fp32 student"
    label_names: list[str]
    matrix: list[list[int]]
    changed: list[dict[str, Any]] = field(default_factory=list)  # texts with both labels (first 100)
    reference_key: str = "teacher_label"  # their keys in ``changed``
    model_key: str = "model_label"
    total_changed: int | None = None  # when more changed than are listed

    @property
    def title(self) -> str:
        return f"{self.model} vs the {self.reference}"


class AgreementView(QWidget):
    def __init__(self, parent: QWidget | None = None, split: str = "test") -> None:
        super().__init__(parent)
        self.split = split
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(24)
        self.combo.setToolTip("Which model against which reference")
        label = QLabel("Co&mpare")
        label.setBuddy(self.combo)
        row.addWidget(label)
        row.addWidget(self.combo)
        row.addStretch(1)
        lay.addLayout(row)
        self.summary = QLabel("No agreement figures yet.")
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        split_view = QSplitter(Qt.Orientation.Vertical)  # see resizeEvent
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        self.matrix_title = QLabel()
        self.matrix_title.setWordWrap(True)
        ll.addWidget(self.matrix_title)
        self.matrix = QTableWidget(0, 0, left)
        self.matrix.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.matrix.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.matrix.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.matrix.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        ll.addWidget(self.matrix, 1)
        split_view.addWidget(left)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        self.changed_title = QLabel()
        self.changed_title.setWordWrap(True)
        rl.addWidget(self.changed_title)
        self.changed = read_only_table(right, ["Text", "Reference", "Model", "True label"])
        header = self.changed.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the text takes the room; labels fit
        rl.addWidget(self.changed, 1)
        split_view.addWidget(right)
        split_view.setStretchFactor(0, 1)
        split_view.setStretchFactor(1, 1)
        lay.addWidget(split_view, 1)
        self.split_view = split_view
        self.entries: list[Agreement] = []
        self.combo.currentIndexChanged.connect(lambda _i: self._show())
        self.matrix.cellClicked.connect(self._cell_clicked)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        """The matrix above the texts where there is height (Optimize), beside them in a wide, low tab (Distill)."""
        super().resizeEvent(event)
        wide = self.width() > 2.2 * self.height()
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if self.split_view.orientation() != orientation:
            self.split_view.setOrientation(orientation)

    def set_entries(self, entries: list[Agreement], note: str = "") -> None:
        self.entries = [e for e in entries if e.matrix]
        current = self.combo.currentText()
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItems([e.title for e in self.entries])
        if current in [e.title for e in self.entries]:
            self.combo.setCurrentText(current)
        self.combo.blockSignals(False)
        self._note = note
        self._show()

    @property
    def entry(self) -> Agreement | None:
        i = self.combo.currentIndex()
        return self.entries[i] if 0 <= i < len(self.entries) else None

    def _show(self, cell: tuple[int, int] | None = None) -> None:
        e = self.entry
        if e is None:
            self.summary.setText(self._note if getattr(self, "_note", "") else "No agreement figures yet.")
            self.matrix.setRowCount(0)
            self.matrix.setColumnCount(0)
            self.changed.setRowCount(0)
            self.matrix_title.setText("")
            self.changed_title.setText("")
            return
        names, m = e.label_names, e.matrix
        total = sum(map(sum, m))
        same = sum(m[i][i] for i in range(len(m)))
        moved = [(m[i][j], names[i], names[j]) for i in range(len(m)) for j in range(len(m)) if i != j and m[i][j]]
        moved.sort(reverse=True)
        most = ", ".join(f"{a} → {b} ({n})" for n, a, b in moved[:3])
        self.summary.setText(f"{e.model} gives the {e.reference}'s label to {same} of {total} {self.split} texts "
                             f"({same / total:.1%})" + (f"; most moved: {most}." if most else "; none moved.")
                             + (f" {self._note}" if getattr(self, "_note", "") else ""))
        self.matrix_title.setText(f"Rows: the {e.reference}'s label, columns: {e.model}'s ({self.split} split). "
                                  "Click a cell for its texts.")
        shade_matrix(self.matrix, m, names, lambda a, b: f"{e.reference} {a}, {e.model} {b}")
        self._fill_changed(cell)

    def _cell_clicked(self, i: int, j: int) -> None:
        self._fill_changed((i, j) if i != j else None)

    def _fill_changed(self, cell: tuple[int, int] | None) -> None:
        e = self.entry
        if e is None:
            return
        rows = e.changed
        if cell is not None:
            a, b = e.label_names[cell[0]], e.label_names[cell[1]]
            rows = [c for c in rows if c.get(e.reference_key) == a and c.get(e.model_key) == b]
        n_all = e.total_changed if e.total_changed is not None else \
            sum(map(sum, e.matrix)) - sum(e.matrix[i][i] for i in range(len(e.matrix)))
        where = f" from {e.label_names[cell[0]]} to {e.label_names[cell[1]]}" if cell is not None else ""
        listed = "" if len(e.changed) >= n_all else f" (the first {len(e.changed)} of {n_all} listed)"
        self.changed_title.setText(f"Texts whose label moved{where}: {len(rows)}{listed}")
        t = self.changed
        t.setSortingEnabled(False)
        t.setRowCount(len(rows))
        for r, c in enumerate(rows):
            text = str(c.get("text", ""))
            t.setItem(r, 0, text_item(text))
            t.item(r, 0).setToolTip(text)
            t.setItem(r, 1, text_item(str(c.get(e.reference_key, ""))))
            t.setItem(r, 2, text_item(str(c.get(e.model_key, ""))))
            t.setItem(r, 3, text_item(str(c.get("true_label", ""))))
        t.setSortingEnabled(True)
