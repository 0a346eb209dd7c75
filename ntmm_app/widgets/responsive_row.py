"""A row of widgets that becomes a column when it is too narrow for them side by side.

Two charts side by side at 1024x700 were each squeezed below the width of their axes and cut off
(issue 18); stacked, each gets the whole width. Qt's box layouts do not switch direction by
themselves, so the row does it on resize.
"""

from __future__ import annotations

from PySide6.QtWidgets import QBoxLayout, QWidget


class ResponsiveRow(QWidget):
    """Children side by side while each has at least ``min_each`` pixels, else one above the other."""

    def __init__(self, min_each: int = 300, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.min_each = min_each
        self.box = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self.box.setContentsMargins(0, 0, 0, 0)

    def add(self, widget: QWidget, stretch: int = 1) -> None:
        self.box.addWidget(widget, stretch)
        self._fit(self.width())

    def stacked(self) -> bool:
        return self.box.direction() == QBoxLayout.Direction.TopToBottom

    def _fit(self, width: int) -> None:
        n = max(self.box.count(), 1)
        direction = (QBoxLayout.Direction.LeftToRight if width >= n * self.min_each + (n - 1) * self.box.spacing()
                     else QBoxLayout.Direction.TopToBottom)
        if direction != self.box.direction():
            self.box.setDirection(direction)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._fit(event.size().width())
        super().resizeEvent(event)
