"""The Runs view: the run folders of this project (and others the user opens), key figures side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ntmm_engine import api

from ..settings import Settings
from ..workers import TaskManager
from .metrics_view import number_item, read_only_table, text_item

EXTRA_KEY = "runs/extra"  # run folders the user added, remembered as a JSON list
COLUMNS = ["Run folder", "Project", "Finished", "Classical F1", "Teacher F1", "Student F1", "Baseline F1", "Fastest model",
           "ms", "Its F1", "MB", "Done"]


def collect_runs(project_run: str | None, project_dir: str | None, extra: list[str]) -> list[api.RunSummary]:
    """Summaries of the project's run folder, the run folders under the project's folder and ``extra`` (worker thread)."""
    paths: list[Path] = []
    if project_run and api.is_run_folder(project_run):
        paths.append(Path(project_run).resolve())
    if project_dir:
        paths += api.find_runs(project_dir)
    paths += [Path(p) for p in extra if api.is_run_folder(p)]
    seen: dict[Path, None] = dict.fromkeys(p.resolve() for p in paths)
    return [api.summarize_run(p) for p in seen]


class RunsDialog(QDialog):
    """A table of runs; Add run folder… / Remove / Refresh. Test macro-F1 of teacher, student and baseline,
    and the benchmark's fastest model, so runs with other settings can be compared at a glance."""

    def __init__(self, tasks: TaskManager, settings: Settings, project: Callable[[], tuple[str | None, str | None]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Runs")
        self.tasks, self.settings, self.project = tasks, settings, project
        self.summaries: list[api.RunSummary] = []
        lay = QVBoxLayout(self)
        note = QLabel("Run folders of this project's folder, and any you add. Test-split macro-F1 per model; the "
                      "fastest model is the benchmark's lowest median latency at batch 1.")
        note.setObjectName("hint")
        note.setWordWrap(True)
        lay.addWidget(note)
        self.table = read_only_table(self, COLUMNS)
        for j, tip in ((7, "median latency of the fastest model at batch 1"), (8, "its test macro-F1"), (9, "its size on disk"),
                       (10, "stages completed")):
            self.table.horizontalHeaderItem(j).setToolTip(tip)
        self.table.setSortingEnabled(True)
        lay.addWidget(self.table, 1)
        self.status = QLabel("")
        self.status.setObjectName("hint")
        lay.addWidget(self.status)
        row = QHBoxLayout()
        self.add_button = QPushButton("&Add run folder…")
        self.add_button.setToolTip("Add a run folder (one holding manifest.json) of another project")
        self.remove_button = QPushButton("Re&move")
        self.remove_button.setToolTip("Take an added run folder off the list (nothing is deleted)")
        self.refresh_button = QPushButton("Re&fresh")
        for b in (self.add_button, self.remove_button, self.refresh_button):
            row.addWidget(b)
        row.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row.addWidget(buttons)
        lay.addLayout(row)
        self.add_button.clicked.connect(self.add_folder)
        self.remove_button.clicked.connect(self.remove_selected)
        self.refresh_button.clicked.connect(self.refresh)
        self.resize(1200, 420)

    # ------------------------------------------------------------ folders
    def extra(self) -> list[str]:
        try:
            items = json.loads(str(self.settings.value(EXTRA_KEY, "[]")))
        except ValueError:
            return []
        return [str(p) for p in items if isinstance(p, str)]

    def _set_extra(self, items: list[str]) -> None:
        self.settings.set_value(EXTRA_KEY, json.dumps(list(dict.fromkeys(items))))

    def add_folder(self, path: str | None = None) -> bool:
        if not path:
            path = QFileDialog.getExistingDirectory(self, "Add a run folder", self.settings.last_folder("runs"))
        if not path:
            return False
        self.settings.set_last_folder("runs", path)
        found = [str(p) for p in api.find_runs(path)] if not api.is_run_folder(path) else [str(Path(path).resolve())]
        if not found:
            self.status.setText(f"{path} holds no NTMM run folder (a folder with manifest.json).")
            return False
        self._set_extra(self.extra() + found)
        self.refresh()
        return True

    def remove_selected(self) -> None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        paths = {self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in rows}
        self._set_extra([p for p in self.extra() if str(Path(p).resolve()) not in paths])
        self.refresh()

    # ------------------------------------------------------------ table
    def refresh(self) -> None:
        run, folder = self.project()
        self.status.setText("Reading the run folders…")
        self.tasks.submit("runs-view", collect_runs, run, folder, self.extra(), on_done=self.show_runs,
                          on_error=lambda m, _d: self.status.setText(f"Could not read the runs: {m}"))

    def show_runs(self, summaries: list[api.RunSummary]) -> None:
        self.summaries = summaries
        current, _ = self.project()
        current = str(Path(current).resolve()) if current else ""
        t = self.table
        t.setSortingEnabled(False)
        t.setRowCount(len(summaries))
        for i, s in enumerate(summaries):
            cells: list[Any] = [text_item(_short(s.path) + ("  (this project)" if s.path == current else "")),
                                text_item(s.project), text_item(s.updated.replace("T", " ")[:16])]
            cells += [number_item(s.test_macro_f1.get(m)) for m in ("classical", "teacher", "student", "baseline")]
            cells += [text_item(s.fastest or "-"), number_item(s.fastest_latency_ms, ".2f"), number_item(s.fastest_macro_f1),
                      number_item(s.fastest_size_bytes / 2**20 if s.fastest_size_bytes else None, ".1f"),
                      text_item(f"{sum(v == 'completed' for v in s.stages.values())}/{len(s.stages)}")]
            cells[0].setData(Qt.ItemDataRole.UserRole, s.path)
            cells[0].setToolTip(s.path)
            cells[-1].setToolTip(", ".join(f"{k}: {v}" for k, v in s.stages.items()))
            if s.path == current:
                bold = QFont()
                bold.setBold(True)
                cells[0].setFont(bold)
            for j, c in enumerate(cells):
                t.setItem(i, j, c)
        t.setSortingEnabled(True)
        self.status.setText(f"{len(summaries)} run folder(s)." if summaries else
                            "No run folders yet: run a step, or add the run folder of another project.")


def _short(path: str) -> str:
    p = Path(path)
    return str(Path(*p.parts[-3:])) if len(p.parts) > 3 else path
