"""A table's first column kept in view while the others scroll sideways (the variant names of a wide table).

Qt has no frozen-column option; this follows Qt's "Frozen Column" example: a second view over the same
model and selection, showing only column 0, laid over the table's left edge and scrolled with it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView
from shiboken6 import isValid


class FrozenColumn(QTableView):
    """Lay over ``table`` a view of its first column that does not scroll horizontally."""

    def __init__(self, table: QTableView) -> None:
        super().__init__(table)
        self.table = table
        self.setProperty("scrollsWithParent", True)  # its scroll bars are off on purpose (diagnostics.clipped_widgets)
        self.setModel(table.model())
        self.setSelectionModel(table.selectionModel())
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(table.alternatingRowColors())
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollMode(table.verticalScrollMode())
        self.setFrameShape(QTableView.Shape.NoFrame)
        self.setStyleSheet("QTableView { border-right: 1px solid palette(mid); }")
        table.viewport().stackUnder(self)
        table.horizontalHeader().sectionResized.connect(self._column_resized)
        table.verticalHeader().sectionResized.connect(lambda row, _old, new: self.setRowHeight(row, new))
        self.verticalScrollBar().valueChanged.connect(table.verticalScrollBar().setValue)
        table.verticalScrollBar().valueChanged.connect(self.verticalScrollBar().setValue)
        # a click on the frozen header sorts the table, as a click on the table's own header would
        self.horizontalHeader().sectionClicked.connect(lambda _c: table.horizontalHeader().sectionClicked.emit(0))
        for signal in (table.model().modelReset, table.model().layoutChanged, table.model().rowsInserted,
                       table.model().columnsInserted):
            signal.connect(self.sync)
        table.installEventFilter(self)
        self.sync()
        self.show()

    def sync(self, *_args) -> None:
        """Show column 0 only, with the table's widths and row heights."""
        if not (isValid(self.table) and isValid(self)):  # the model's signals outlive the table while it closes
            return
        model = self.table.model()
        for c in range(model.columnCount()):
            self.setColumnHidden(c, c != 0)
        self.setColumnWidth(0, self.table.columnWidth(0))
        for r in range(model.rowCount()):
            self.setRowHeight(r, self.table.rowHeight(r))
        self.place()

    def _column_resized(self, index: int, _old: int, new: int) -> None:
        if index == 0:
            self.setColumnWidth(0, new)
            self.place()

    def place(self) -> None:
        t = self.table
        if not (isValid(t) and isValid(self)):  # the table is being destroyed (the window closes)
            return
        self.horizontalHeader().setFixedHeight(t.horizontalHeader().height())
        self.setGeometry(t.verticalHeader().width() + t.frameWidth(), t.frameWidth(), t.columnWidth(0),
                         t.viewport().height() + t.horizontalHeader().height())
        self.setVisible(not t.isColumnHidden(0) and t.columnWidth(0) > 0)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if isValid(self) and watched is self.table and event.type() in (QEvent.Type.Resize, QEvent.Type.Show, QEvent.Type.LayoutRequest):
            self.place()
        return False
