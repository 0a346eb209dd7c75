"""Start / Resume / Cancel buttons with a one-line state, shared by the job pages."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QStyle, QWidget

STATE_ROOM = 240  # narrower than this beside the buttons, the state line moves under them


class RunControls(QWidget):
    start_clicked = Signal()
    resume_clicked = Signal()
    cancel_clicked = Signal()

    def __init__(self, start_text: str = "&Start", resumable: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = lay = QGridLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        st = self.style()
        self.start = QPushButton(st.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), start_text, self)
        self.start.setToolTip("Start this step (Ctrl+R)")
        self.start.setObjectName("primaryButton")
        self.resume = QPushButton(st.standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward), "Res&ume", self)
        self.resume.setToolTip("Continue the interrupted run from its last checkpoint")
        self.resume.setVisible(resumable)
        self.cancel = QPushButton(st.standardIcon(QStyle.StandardPixmap.SP_MediaStop), "&Cancel", self)
        self.cancel.setToolTip("Stop at the next step (Esc)")
        self.state = QLabel(self)
        self.state.setObjectName("runState")
        self.state.setWordWrap(True)
        # a few pixels to spare on the right: Qt breaks a line that fits to the pixel in whole-pixel advances,
        # and the semibold glyphs then paint a pixel past the label's edge ("…to redo" cut at 1024 wide)
        self.state.setContentsMargins(0, 0, 4, 0)
        for i, b in enumerate((self.start, self.resume, self.cancel)):
            lay.addWidget(b, 0, i)
        self._below: bool | None = None
        self._place_state(below=False)
        self.start.clicked.connect(self.start_clicked)
        self.resume.clicked.connect(self.resume_clicked)
        self.cancel.clicked.connect(self.cancel_clicked)
        self.set_state(running=False, can_start=True, can_resume=False)

    def _place_state(self, below: bool) -> None:
        """Beside the buttons, or under them at 1024 wide, where beside them it wrapped into four lines."""
        if below == self._below:
            return
        self._below = below
        self.grid.removeWidget(self.state)
        if below:
            self.grid.addWidget(self.state, 1, 0, 1, 4)
        else:
            self.grid.addWidget(self.state, 0, 3)
        self.grid.setColumnStretch(3, 1)

    def state_below(self) -> bool:
        return bool(self._below)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        buttons = sum(b.sizeHint().width() + self.grid.horizontalSpacing() for b in (self.start, self.resume, self.cancel)
                      if not b.isHidden())
        self._place_state(below=event.size().width() - buttons < STATE_ROOM)
        super().resizeEvent(event)

    def set_state(self, *, running: bool, can_start: bool, can_resume: bool, text: str = "") -> None:
        self.start.setEnabled(can_start and not running)
        self.resume.setEnabled(can_resume and not running)
        self.cancel.setEnabled(running)
        self.state.setText(text)
