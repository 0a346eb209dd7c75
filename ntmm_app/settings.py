"""Per-user GUI settings (QSettings): window geometry, recent projects, last folders.

``NTMM_SETTINGS_FILE`` points the app at an INI file instead of the user's
real settings; the tests set it so a developer's settings are never touched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "NTMM"
APPLICATION = "NTMM"
MAX_RECENT = 8


def make_qsettings() -> QSettings:
    path = os.environ.get("NTMM_SETTINGS_FILE")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


class Settings:
    """Typed access to the few things the app remembers."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.q = qsettings or make_qsettings()

    # -------------------------------------------------------------- window
    def geometry(self) -> QByteArray | None:
        v = self.q.value("window/geometry")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def set_geometry(self, geometry: QByteArray) -> None:
        self.q.setValue("window/geometry", geometry)

    def window_state(self) -> QByteArray | None:
        v = self.q.value("window/state")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def set_window_state(self, state: QByteArray) -> None:
        self.q.setValue("window/state", state)

    # ------------------------------------------------------------ projects
    def recent_projects(self) -> list[str]:
        # Stored as JSON: an INI list of one element would come back as a plain string.
        try:
            items = json.loads(str(self.q.value("projects/recent", "[]")))
        except ValueError:
            return []
        return [str(p) for p in items if isinstance(p, str)]

    def add_recent_project(self, path: str | Path) -> None:
        p = str(Path(path).resolve())
        items = [x for x in self.recent_projects() if x != p]
        self._set_recent([p] + items)

    def remove_recent_project(self, path: str | Path) -> None:
        p = str(Path(path).resolve())
        self._set_recent([x for x in self.recent_projects() if x != p])

    def clear_recent_projects(self) -> None:
        self._set_recent([])

    def _set_recent(self, items: list[str]) -> None:
        self.q.setValue("projects/recent", json.dumps(items[:MAX_RECENT]))

    @property
    def started_before(self) -> bool:
        return str(self.q.value("app/started_before", "false")).lower() == "true"

    def mark_started(self) -> None:
        self.q.setValue("app/started_before", "true")

    # ------------------------------------------------------------- folders
    def last_folder(self, kind: str, default: str | Path = "") -> str:
        v = str(self.q.value(f"folders/{kind}", "") or "")
        if v and Path(v).is_dir():
            return v
        return str(default or Path.home())

    def set_last_folder(self, kind: str, path: str | Path) -> None:
        p = Path(path)
        self.q.setValue(f"folders/{kind}", str(p if p.is_dir() else p.parent))

    # ---------------------------------------------------------------- misc
    def value(self, key: str, default=None):
        return self.q.value(key, default)

    def set_value(self, key: str, value) -> None:
        self.q.setValue(key, value)

    def sync(self) -> None:
        self.q.sync()


_current: Settings | None = None


def current() -> Settings | None:
    """The settings of the running window (set by the main window), for small widgets."""
    return _current


def set_current(s: Settings | None) -> None:
    global _current
    _current = s
