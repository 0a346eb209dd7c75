"""QApplication set-up: names for QSettings, icon, style sheet, high-DPI policy."""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from ntmm_engine.api import resources_dir

from .settings import APPLICATION, ORGANIZATION


def app_icon() -> QIcon:
    return QIcon(str(resources_dir() / "icons" / "ntmm.svg"))


def style_sheet() -> str:
    try:
        return (resources_dir() / "style.qss").read_text(encoding="utf-8")
    except OSError:
        return ""


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (created once), with NTMM's names, icon and style."""
    app = QApplication.instance()
    if app is None:
        # Fractional scale factors (150%, 175%) as they are, not rounded: crisp text at any scaling.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(argv if argv is not None else sys.argv)
    configure(app)
    return app


def configure(app: QApplication) -> None:
    from .qtcompat import guard_singleton_refcounts
    guard_singleton_refcounts()  # PySide6 6.12 + Python 3.11: see qtcompat
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("NTMM")
    app.setDesktopFileName("ntmm")
    app.setWindowIcon(app_icon())
    app.setStyleSheet(style_sheet())
