"""A warning banner: shown with a message, hidden without one (e.g. "not clearly better than the baseline")."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy, QWidget

from .wrapped_label import WrappedLabel


class WarningBanner(WrappedLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setObjectName("warningBanner")
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.hide()

    def show_warnings(self, warnings: list[str]) -> None:
        """Show the non-empty ones (one paragraph each), or hide."""
        warnings = [w for w in warnings if w]
        self.setText("<br><br>".join("⚠ " + w for w in warnings))
        self.setVisible(bool(warnings))
