"""A word-wrapped label that always gets the height its text needs at the width it has.

Qt lays out a word-wrapped QLabel by height-for-width, but a layout inside a scroll area (or one
whose width changes after a scroll bar appears) gives it the height for another width, and the
last lines are cut off: two baseline warnings at 1024 wide (224 px needed, 196 given), the last
line of an explanation on the Predict step. This label sets its minimum height from its text.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget


class WrappedLabel(QLabel):
    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self._fit_height()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fit_height()

    def _fit_height(self) -> None:
        if self.width() <= 0:
            return
        old = self.minimumHeight()
        self.setMinimumHeight(0)  # heightForWidth does not go below the minimum: measure without it
        need = self.heightForWidth(self.width())
        self.setMinimumHeight(need if need > 0 else old)
