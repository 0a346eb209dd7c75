"""Why this label: the typed text with its words highlighted by how much they pushed a class, a colour legend,
and the top words of each explained class (Predict step)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QTextBrowser, QVBoxLayout, QWidget

from ntmm_engine import api

from .fit_scroll import FitScrollArea
from .wrapped_label import WrappedLabel

TOWARDS = (46, 139, 87)  # green: pushes towards the class
AWAY = (205, 60, 60)     # red: pushes away from it
MAX_ALPHA = 0.75


def blend(rgb: tuple[int, int, int], alpha: float) -> str:
    """``rgb`` at ``alpha`` over white, as an opaque #rrggbb (Qt's rich text has no reliable rgba())."""
    return "#" + "".join(f"{round(255 + (c - 255) * alpha):02x}" for c in rgb)


def word_color(score: float, scale: float) -> str | None:
    """The background of a word: green towards, red away, as strong as its share of the largest |score|."""
    if scale <= 0 or abs(score) < 0.05 * scale:
        return None
    return blend(TOWARDS if score > 0 else AWAY, min(MAX_ALPHA, 0.12 + MAX_ALPHA * abs(score) / scale))


def highlighted_html(text: str, explanation: api.Explanation, label: str | None = None) -> str:
    """``text`` as HTML, each scored word on its colour, with its score as a tooltip."""
    scores = explanation.scores_for(label)
    scale = max((abs(s) for s in scores), default=0.0)
    out, pos = [], 0
    for word, score in zip(explanation.words, scores):
        out.append(html.escape(text[pos:word.start]))
        color = word_color(score, scale)
        piece = html.escape(text[word.start:word.end])
        out.append(f"<span style='background-color:{color}' title='{score:+.3f}'>{piece}</span>" if color else piece)
        pos = word.end
    out.append(html.escape(text[pos:]))
    return "<div style='white-space:pre-wrap; line-height:150%'>" + "".join(out) + "</div>"


def legend_html(label: str) -> str:
    boxes = "".join(f"<span style='background-color:{blend(c, a)}'>&nbsp;&nbsp;&nbsp;&nbsp;</span>"
                    for c, a in ((AWAY, 0.75), (AWAY, 0.35), (TOWARDS, 0.35), (TOWARDS, 0.75)))
    return f"pushes away from {html.escape(label)} {boxes} pushes towards {html.escape(label)}"


class ExplanationView(QWidget):
    """The last explanation of the typed text; ``show_explanation`` fills it, ``clear`` empties it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        title = QLabel("<b>Why this label</b>")
        self.class_combo = QComboBox()
        # not AdjustToContents: a long class name would widen the Predict page past a 1024-pixel window
        self.class_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.class_combo.setMinimumContentsLength(16)
        self.class_combo.setToolTip("The class whose pushes are highlighted")
        class_label = QLabel("words pushing &class")
        class_label.setBuddy(self.class_combo)
        row.addWidget(title)
        row.addStretch(1)
        row.addWidget(class_label)
        row.addWidget(self.class_combo)
        lay.addLayout(row)
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.setPlaceholderText("The words that pushed the prediction appear here.")
        # the highlighted text takes the room the details below leave (its own size hint ignored), down to
        # two lines: squeezed, the details kept three lines and scrolled while this box had room to spare
        self.text.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        self.text.setMinimumHeight(2 * self.fontMetrics().lineSpacing() + 12)
        lay.addWidget(self.text, 1)
        # The legend, the top words of each class and the timing scroll together below the text: squeezed
        # (Predict at 1024x700) the top words' last line lay over the timing line.
        details = QWidget()
        dl = QVBoxLayout(details)
        dl.setContentsMargins(0, 0, 0, 0)
        self.legend = WrappedLabel()  # wrapped labels that ask for the height of all their lines
        self.legend.setObjectName("hint")
        self.top = WrappedLabel()
        self.top.setTextFormat(Qt.TextFormat.RichText)
        self.status = WrappedLabel()
        self.status.setObjectName("hint")
        for w in (self.legend, self.top, self.status):
            dl.addWidget(w)
        dl.addStretch(1)
        self.details = FitScrollArea(details)
        self.details.setMinimumHeight(3 * self.fontMetrics().lineSpacing())
        lay.addWidget(self.details)
        self.explanation: api.Explanation | None = None
        self.source = ""
        self.class_combo.currentIndexChanged.connect(lambda _i: self._render())

    def clear(self, message: str = "") -> None:
        self.explanation, self.source = None, ""
        self.class_combo.clear()
        self.text.clear()
        self.legend.setText("")
        self.top.setText("")
        self.status.setText(message)

    def working(self) -> None:
        self.status.setText("Finding the words that pushed it…")

    def show_explanation(self, text: str, explanation: api.Explanation) -> None:
        self.explanation, self.source = explanation, text
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItems([f"{c} ({p:.0%})" for c, p in zip(explanation.classes, explanation.probabilities)])
        self.class_combo.blockSignals(False)
        rows = []
        for c, p in zip(explanation.classes, explanation.probabilities):
            towards = ", ".join(f"{html.escape(w)} {s:+.2f}" for w, s in explanation.top(c, k=5)) or "–"
            away = ", ".join(f"{html.escape(w)} {s:+.2f}" for w, s in explanation.top(c, k=3, positive=False)) or "–"
            rows.append(f"<b>{html.escape(c)}</b> ({p:.0%}): {towards} <span style='color:#777'>| against: {away}</span>")
        self.top.setText("<br>".join(rows))
        seconds = f"{explanation.seconds:.2f} s" if explanation.seconds >= 0.01 else f"{explanation.seconds * 1000:.0f} ms"
        self.status.setText(f"Scores: change of the {explanation.unit} ({explanation.method}); {seconds}."
                            + (" Words past the model's maximum length were not read (no score)." if explanation.truncated else ""))
        self._render()

    def _render(self) -> None:
        e = self.explanation
        if e is None:
            return
        i = max(self.class_combo.currentIndex(), 0)
        label = e.classes[i]
        self.text.setHtml(highlighted_html(self.source, e, label))
        self.legend.setText(legend_html(label))
