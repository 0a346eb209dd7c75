"""A warning banner: shown with a message, hidden without one (e.g. "not clearly better than the baseline")."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class WarningBanner(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("warningBanner")
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.hide()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        # A word-wrapped label inside a scrolled panel is given its height for some other width, so two
        # warnings at 1024 wide lost their last lines (224 px needed, 196 given): ask for the height
        # the text needs at the width it has.
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

    def show_warnings(self, warnings: list[str]) -> None:
        """Show the non-empty ones (one paragraph each), or hide."""
        warnings = [w for w in warnings if w]
        self.setText("<br><br>".join("⚠ " + w for w in warnings))
        self.setVisible(bool(warnings))
        self._fit_height()
