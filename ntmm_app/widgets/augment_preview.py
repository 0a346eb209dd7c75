"""Augmented training texts next to their originals, with the changed words marked."""

from __future__ import annotations

import difflib
import html
from typing import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

REMOVED = "background:#fde2e1;text-decoration:line-through"
ADDED = "background:#d9f2d9;font-weight:bold"


def mark_changes(original: str, augmented: str) -> tuple[str, str]:
    """HTML of both texts with the words that differ highlighted (word-level diff)."""
    a, b = original.split(), augmented.split()
    left: list[str] = []
    right: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        old, new = html.escape(" ".join(a[i1:i2])), html.escape(" ".join(b[j1:j2]))
        if op == "equal":
            left.append(old)
            right.append(new)
            continue
        if old:
            left.append(f'<span style="{REMOVED}">{old}</span>')
        if new:
            right.append(f'<span style="{ADDED}">{new}</span>')
    return " ".join(left), " ".join(right)


def pairs_html(pairs: Sequence[tuple[str, str]]) -> str:
    rows = []
    for original, augmented in pairs:
        left, right = mark_changes(original, augmented)
        same = "" if original != augmented else "<br><i>(unchanged: no eligible word was picked)</i>"
        rows.append(f'<tr><td width="50%" valign="top">{left}</td><td width="50%" valign="top">{right}{same}</td></tr>')
    return ('<table width="100%" cellspacing="0" cellpadding="6" border="1" style="border-color:#d0d0d0">'
            '<tr><th align="left">Original</th><th align="left">Augmented copy</th></tr>' + "".join(rows) + "</table>")


class AugmentPreview(QWidget):
    """A few training texts and one augmented copy each; "Other examples" picks new ones."""

    reshuffle = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.note = QLabel("Load training data to preview augmentation.")
        self.note.setWordWrap(True)
        self.other = QPushButton("Other e&xamples")
        self.other.setToolTip("Preview different training texts")
        self.other.clicked.connect(self.reshuffle)
        bar.addWidget(self.note, 1)
        bar.addWidget(self.other)
        lay.addLayout(bar)
        self.view = QTextBrowser(self)
        self.view.setOpenLinks(False)
        lay.addWidget(self.view, 1)
        self.pairs: list[tuple[str, str]] = []

    def show_pairs(self, pairs: Sequence[tuple[str, str]], note: str) -> None:
        self.pairs = list(pairs)
        self.note.setText(note)
        self.view.setHtml(pairs_html(self.pairs) if self.pairs else "")
        self.other.setEnabled(bool(self.pairs))

    def show_message(self, note: str) -> None:
        self.pairs = []
        self.note.setText(note)
        self.view.clear()
        self.other.setEnabled(False)
