"""A line edit for a file, folder or hub name, with browse buttons."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLineEdit, QToolButton, QWidget

from .. import settings as settings_mod

DATA_FILTER = "Data files (*.csv *.tsv *.txt *.json *.jsonl *.ndjson *.parquet *.pq);;All files (*)"


SEPARATOR = "; "  # between the paths of a field that takes several (multiple=True)


def split_paths(text: str) -> list[str]:
    """The paths of a several-paths field's text ("a.csv; notes/" -> ["a.csv", "notes/"])."""
    return [p.strip() for p in text.split(";") if p.strip()]


class PathEdit(QWidget):
    """Emits :attr:`committed` when the user finishes typing or picks a path.

    ``multiple``: the field holds several paths separated by ";" (File… picks one or more files;
    files and folders can be mixed by typing; see :func:`split_paths`).
    """

    committed = Signal(str)

    def __init__(self, *, file: bool = True, folder: bool = True, file_filter: str = DATA_FILTER,
                 placeholder: str = "", folder_kind: str = "data", base_dir: str = "", multiple: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.file_filter, self.folder_kind, self.base_dir = file_filter, folder_kind, base_dir
        self.multiple = multiple
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText(placeholder)
        self.edit.setClearButtonEnabled(True)
        lay.addWidget(self.edit, 1)
        self.file_button = self.folder_button = None
        if file:
            self.file_button = QToolButton(self)
            self.file_button.setText("File…")
            self.file_button.setToolTip("Choose a file")
            self.file_button.clicked.connect(self.browse_file)
            lay.addWidget(self.file_button)
        if folder:
            self.folder_button = QToolButton(self)
            self.folder_button.setText("Folder…")
            self.folder_button.setToolTip("Choose a folder")
            self.folder_button.clicked.connect(self.browse_folder)
            lay.addWidget(self.folder_button)
        self.edit.editingFinished.connect(self._commit)
        self._last = ""
        self.setFocusProxy(self.edit)

    def text(self) -> str:
        return self.edit.text().strip()

    def setText(self, text: str) -> None:
        self._last = text or ""
        self.edit.setText(self._last)

    def setToolTip(self, text: str) -> None:  # noqa: N802 (Qt naming)
        super().setToolTip(text)
        self.edit.setToolTip(text)

    def paths(self) -> list[str]:
        return split_paths(self.text()) if self.multiple else ([self.text()] if self.text() else [])

    def setPaths(self, paths: list[str]) -> None:  # noqa: N802 (Qt naming)
        self.setText(SEPARATOR.join(paths))

    def _start_dir(self) -> str:
        current = (self.paths() or [""])[-1]
        if current:
            p = Path(current).expanduser()
            if not p.is_absolute() and self.base_dir:
                p = Path(self.base_dir) / p
            if p.exists():
                return str(p if p.is_dir() else p.parent)
        s = settings_mod.current()
        return s.last_folder(self.folder_kind, self.base_dir) if s else (self.base_dir or str(Path.home()))

    def _remember(self, path: str) -> None:
        s = settings_mod.current()
        if s:
            s.set_last_folder(self.folder_kind, path)

    def browse_file(self) -> None:
        if self.multiple:
            paths, _ = QFileDialog.getOpenFileNames(self, "Choose one or more files", self._start_dir(), self.file_filter)
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Choose a file", self._start_dir(), self.file_filter)
            paths = [path] if path else []
        if paths:
            self._remember(paths[-1])
            self.edit.setText(SEPARATOR.join(paths))
            self._commit()

    def browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder", self._start_dir())
        if path:
            self._remember(path)
            self.edit.setText(path)
            self._commit()

    def _commit(self) -> None:
        text = self.text()
        if text != self._last:
            self._last = text
            self.committed.emit(text)
