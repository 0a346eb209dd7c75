"""Augmented training texts next to their originals, with the changed words marked and each edit named."""

from __future__ import annotations

import difflib
import html
from typing import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

REMOVED = "background:#fde2e1;text-decoration:line-through"
ADDED = "background:#d9f2d9;font-weight:bold"
# one colour per operation for the list of edits under each copy (the user judges each operation)
OP_COLOURS = {"synonym": "#1f5fa8", "swap": "#8a4b00", "insert": "#2e7d32"}


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


def changes_html(changes: Sequence) -> str:
    """The edits of one copy, each labelled with the operation that made it (``api.AugmentSample.changes``)."""
    items = [f'<span style="color:{OP_COLOURS.get(c.op, "#444")};font-weight:bold">{html.escape(c.op)}</span> '
             + html.escape(c.describe().split(": ", 1)[1]) for c in changes]
    return '<br><span style="font-size:small">' + " · ".join(items) + "</span>" if items else ""


def pairs_html(samples: Sequence) -> str:
    rows = []
    for s in samples:
        left, right = mark_changes(s.original, s.augmented)
        same = "" if s.original != s.augmented else "<br><i>(unchanged: no eligible word was picked)</i>"
        rows.append(f'<tr><td width="50%" valign="top">{left}</td><td width="50%" valign="top">{right}{same}'
                    f'{changes_html(s.changes)}</td></tr>')
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
        self.pairs: list = []  # api.AugmentSample: original, augmented, changes

    def show_pairs(self, pairs: Sequence, note: str) -> None:
        self.pairs = list(pairs)
        self.note.setText(note)
        self.view.setHtml(pairs_html(self.pairs) if self.pairs else "")
        self.other.setEnabled(bool(self.pairs))

    def show_message(self, note: str) -> None:
        self.pairs = []
        self.note.setText(note)
        self.view.clear()
        self.other.setEnabled(False)
