"""GUI test set-up: offscreen Qt, throw-away settings and home, no modal dialogs, no stray threads."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def no_threads_left(qapp):
    """Fail a test that leaves a worker QThread running (set up first, so checked last)."""
    yield
    from ntmm_app import workers

    running = workers.live_threads()
    if running:
        workers.wait_all(60000)
        pytest.fail(f"{len(running)} worker thread(s) still running at the end of the test")


@pytest.fixture(autouse=True)
def app_env(tmp_path, monkeypatch, qapp):
    """Settings in a temp INI file and NTMM_HOME in a temp folder: real user files are never touched."""
    monkeypatch.setenv("NTMM_SETTINGS_FILE", str(tmp_path / "settings" / "ntmm.ini"))
    monkeypatch.setenv("NTMM_HOME", str(tmp_path / "home"))
    from ntmm_app.app import configure
    configure(qapp)


@dataclass
class Dialogs:
    """What the patched dialogs were asked, and how they answer."""

    errors: list[tuple[str, str, str]] = field(default_factory=list)   # (title, text, details)
    questions: list[tuple[str, str]] = field(default_factory=list)
    answers: list[Any] = field(default_factory=list)                   # queued answers for question()
    save_paths: list[str] = field(default_factory=list)                # queued getSaveFileName results
    open_paths: list[str] = field(default_factory=list)                # queued getOpenFileName results

    def answer(self, buttons) -> Any:
        from PySide6.QtWidgets import QMessageBox
        if self.answers:
            return self.answers.pop(0)
        if buttons & QMessageBox.StandardButton.Discard:
            return QMessageBox.StandardButton.Discard  # unsaved changes: never write during tests
        return QMessageBox.StandardButton.Yes


@pytest.fixture(autouse=True)
def dialogs(monkeypatch) -> Dialogs:
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    from ntmm_app import errors

    d = Dialogs()

    def fake_exec(self) -> int:
        d.errors.append((self.windowTitle(), self.text(), self.detailedText()))
        return 0

    def fake_question(parent, title, text, buttons=None, default=None):
        d.questions.append((title, text))
        return d.answer(buttons if buttons is not None else QMessageBox.StandardButton.Yes)

    monkeypatch.setattr(errors.ErrorDialog, "exec", fake_exec)
    monkeypatch.setattr(QMessageBox, "question", staticmethod(fake_question))
    monkeypatch.setattr(QMessageBox, "information", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Ok))
    monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda *a, **k: None))
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (d.save_paths.pop(0) if d.save_paths else "", "")))
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (d.open_paths.pop(0) if d.open_paths else "", "")))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: ""))
    return d


@pytest.fixture
def make_window(qtbot) -> Callable:
    """Create main windows; they are closed (jobs cancelled, threads joined) at teardown."""
    from ntmm_app import workers
    from ntmm_app.main_window import MainWindow
    from ntmm_app.settings import Settings

    windows: list = []

    def make(project: str | Path | None = None, *, demo: bool = False, show: bool = True):
        w = MainWindow(Settings())
        qtbot.addWidget(w)
        if project is not None:
            assert w.open_project(project), "the project did not open"
        elif demo:
            assert w.open_demo()
        if show:
            w.show()
            qtbot.waitExposed(w)
        windows.append(w)
        return w

    yield make
    for w in windows:
        try:
            w.runner.cancel()
            w.runner.wait(60000)
            w.project._set_dirty(False)
            w.close()
        except RuntimeError:  # already deleted
            pass
    workers.wait_all(60000)


@pytest.fixture
def tiny_project(tiny_config, tmp_path) -> Path:
    """The tiny-teacher project saved as YAML (what a user would open)."""
    path = tmp_path / "tiny.yaml"
    tiny_config.save(path)
    return path


@pytest.fixture
def wait_idle(qtbot) -> Callable:
    """``wait_idle(window)``: wait until its background tasks (preview, analysis, loading) are done."""
    def wait(window, timeout: int = 30000) -> None:
        qtbot.waitUntil(window.is_idle, timeout=timeout)
    return wait
