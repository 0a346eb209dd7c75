"""Error dialog: a plain message, expandable details, and a log file entry.

User errors (``NTMMError``) are shown as their message alone; bugs show a short
message with the traceback in "Show Details...". Every error is appended to
``gui.log`` in the user log folder (``ntmm_engine.core.resources.log_dir()``).
Call through the module (``errors.show_error(...)``) so tests can patch it.
"""

from __future__ import annotations

import logging
import sys
import traceback
from logging.handlers import RotatingFileHandler
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

_logger: logging.Logger | None = None


def log_path() -> Path:
    from ntmm_engine.api import log_dir
    return log_dir() / "gui.log"


def logger() -> logging.Logger:
    """The GUI's file logger (created on first use, in the user log folder)."""
    global _logger
    path = log_path()
    if _logger is None or not any(getattr(h, "baseFilename", None) == str(path) for h in _logger.handlers):
        lg = logging.getLogger("ntmm_app")
        for h in list(lg.handlers):
            lg.removeHandler(h)
            h.close()
        handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
        lg.propagate = False
        _logger = lg
    return _logger


def log_error(title: str, message: str, details: str = "") -> Path | None:
    try:
        logger().error("%s: %s%s", title, message, f"\n{details}" if details else "")
        return log_path()
    except OSError:  # a read-only home must not turn one error into two
        return None


class ErrorDialog(QMessageBox):
    """A warning (user error) or critical (bug) box with optional details."""

    def __init__(self, parent: QWidget | None, title: str, message: str, details: str = "",
                 log_file: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setIcon(QMessageBox.Icon.Critical if details else QMessageBox.Icon.Warning)
        self.setText(message)
        if details or log_file:
            extra = f"\n\nLogged to {log_file}" if log_file else ""
            if details:
                self.setDetailedText(details + extra)
            elif log_file:
                self.setInformativeText(f"Logged to {log_file}")
        self.setStandardButtons(QMessageBox.StandardButton.Ok)


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> None:
    """Log the error, then show it in a modal dialog."""
    path = log_error(title, message, details)
    ErrorDialog(parent, title, message, details, path if details else None).exec()


def show_exception(parent: QWidget | None, title: str, exc: BaseException) -> None:
    from .workers import describe_exception
    show_error(parent, title, *describe_exception(exc))


def install_excepthook() -> None:
    """Unhandled exceptions in slots: dialog + log instead of a silent stderr line."""
    def hook(etype, value, tb):
        details = "".join(traceback.format_exception(etype, value, tb))
        sys.__stderr__.write(details)
        try:
            show_error(None, "Unexpected error", f"{etype.__name__}: {value}", details)
        except Exception:
            pass
    sys.excepthook = hook


def ask(parent: QWidget | None, title: str, text: str) -> bool:
    """A Yes/No question whose default is No (the safe answer); True for Yes."""
    answer = QMessageBox.question(parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes
