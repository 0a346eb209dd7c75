"""Showing files and folders to the user: the file manager when there is one, else the path to copy.

``QDesktopServices.openUrl`` returns False (and shows nothing) where no file manager or
``xdg-open`` is installed — common on servers reached over X forwarding and in minimal desktops —
so a button that "does nothing" becomes a dialog with the path, copied to the clipboard.
Call through the module (``desktop.reveal(...)``) so tests can patch ``open_url``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget


def open_url(url: QUrl) -> bool:
    return QDesktopServices.openUrl(url)


def reveal(parent: QWidget | None, path: str | Path, what: str = "folder") -> bool:
    """Open ``path`` in the file manager (or its default application); True if that worked.

    Otherwise the path is copied to the clipboard and shown in a dialog whose text can be selected.
    """
    path = Path(path)
    if open_url(QUrl.fromLocalFile(str(path))):
        return True
    QGuiApplication.clipboard().setText(str(path))
    box = QMessageBox(QMessageBox.Icon.Information, f"Open {what}",
                      f"No file manager could be opened here. The {what} is:<br><br><b>{path}</b><br><br>"
                      "The path was copied to the clipboard.", QMessageBox.StandardButton.Ok, parent)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.exec()
    return False

