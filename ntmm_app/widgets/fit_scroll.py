"""A scroll area that asks for its content's whole height and scrolls only where it is squeezed.

QScrollArea's size hint is fixed when it is laid out, so an area whose content grows later (the
Predict step's explanation, filled after each prediction) kept a few lines and scrolled even with
room to spare; without an area, squeezed labels were drawn over each other.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget


class FitScrollArea(QScrollArea):
    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(content)
        content.installEventFilter(self)
        # drawn on the background of what it lies in (a tab's white page), not the window's grey
        self.viewport().setAutoFillBackground(False)
        content.setAutoFillBackground(False)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        content = self.widget()
        height = content.minimumSizeHint().height() if content is not None else 0
        return QSize(super().sizeHint().width(), height + 2 * self.frameWidth())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the content's height changed: ask the layout again
        return super().eventFilter(watched, event)
