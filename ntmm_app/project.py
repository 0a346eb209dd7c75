"""The open project: a :class:`ProjectConfig`, its file, and an unsaved-changes flag.

Pages read ``project.config`` and change it only through :meth:`Project.set`
/ :meth:`Project.set_text`, which validate (a rejected value leaves the config
as it was) and emit :attr:`Project.changed`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from ntmm_engine import api
from ntmm_engine.core.config import ProjectConfig, load_config
from ntmm_engine.core.errors import ConfigError


class Project(QObject):
    changed = Signal(str)        # dotted key that changed
    loaded = Signal()            # a different project (or a reloaded file) is open
    dirty_changed = Signal(bool)
    status_changed = Signal()    # the run folder changed (a job finished)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.config: ProjectConfig = ProjectConfig()
        self.path: Path | None = None
        self._dirty = False

    # -------------------------------------------------------------- files
    @property
    def is_open(self) -> bool:
        return self.path is not None

    @property
    def dirty(self) -> bool:
        return self._dirty

    def _set_dirty(self, value: bool) -> None:
        if value != self._dirty:
            self._dirty = value
            self.dirty_changed.emit(value)

    def open(self, path: str | Path) -> None:
        """Load a project file (raises ConfigError with a plain message)."""
        cfg = load_config(path)
        self.config, self.path = cfg, Path(path).resolve()
        self._set_dirty(False)
        self.loaded.emit()

    def save(self, path: str | Path | None = None) -> Path:
        """Save to ``path`` (Save As) or the current file."""
        target = Path(path).resolve() if path else self.path
        if target is None:
            raise ConfigError("config", "the project has no file yet")
        if self.path is not None and target.parent != self.path.parent:
            self.config.rebase(target.parent)
        self.config.save(target)
        moved = target != self.path
        self.path = target
        self._set_dirty(False)
        if moved:
            self.loaded.emit()
        return target

    # ------------------------------------------------------------- values
    def get(self, dotted: str) -> Any:
        obj: Any = self.config
        for part in dotted.split("."):
            obj = getattr(obj, part)
        return obj

    def set(self, dotted: str, value: Any) -> None:
        """Set a typed value; raises ConfigError (config unchanged) if invalid."""
        *parents, name = dotted.split(".")
        obj: Any = self.config
        for p in parents:
            obj = getattr(obj, p)
        if not hasattr(obj, name):
            raise ConfigError(dotted, "unknown setting")
        old = getattr(obj, name)
        if old == value and type(old) is type(value):
            return
        setattr(obj, name, copy.deepcopy(value))
        try:
            self.config.validate()
        except ConfigError:
            setattr(obj, name, old)
            raise
        self._changed(dotted)

    def set_text(self, dotted: str, raw: str) -> None:
        """Set from text as ``--set`` does (parsed, coerced, validated); unchanged on error."""
        *parents, name = dotted.split(".")
        obj: Any = self.config
        for p in parents:
            obj = getattr(obj, p)
        old = copy.deepcopy(getattr(obj, name, None))
        try:
            self.config.set_value(dotted, raw)
        except ConfigError:
            if hasattr(obj, name):
                setattr(obj, name, old)
            raise
        if getattr(obj, name) != old:
            self._changed(dotted)

    def _changed(self, dotted: str) -> None:
        self._set_dirty(True)
        self.changed.emit(dotted)

    def snapshot(self) -> ProjectConfig:
        """A copy for a job, so edits while it runs cannot race with it."""
        return copy.deepcopy(self.config)

    # --------------------------------------------------------- run folder
    @property
    def run_path(self) -> Path:
        return self.config.run_path

    def state(self) -> api.RunState:
        """A fresh look at the run folder (stage states, results, models)."""
        return api.RunState(self.config)

    def stage_status(self, stage: str) -> str:
        return self.state().status(stage)

    def notify_run_changed(self) -> None:
        self.status_changed.emit()
