"""Base classes of the wizard pages.

A :class:`StepPage` has a title, a one-line description, a banner that says
what the step still needs (its content is disabled until then) and a body.
A :class:`JobStepPage` adds run controls wired to the window's
:class:`~ntmm_app.workers.JobRunner`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QSplitter, QVBoxLayout, QWidget

from ntmm_engine import api

from .. import errors
from ..project import Project
from ..settings import Settings
from ..widgets.banner import WarningBanner
from ..widgets.config_form import ConfigForm
from ..widgets.live_plot import CANCELLED_TEXT
from ..widgets.run_controls import RunControls
from ..workers import JobRunner, JobSpec, TaskManager

STAGE_LABELS = {"completed": "done", "cancelled": "cancelled", "running": "interrupted", "failed": "failed",
                "incomplete": "incomplete", "missing": ""}


@dataclass
class AppContext:
    """What every page can reach: the project, the job runner, tasks, settings, the window."""

    project: Project
    runner: JobRunner
    tasks: TaskManager
    settings: Settings
    window: QWidget


def scroll(widget: QWidget, min_width: int = 0) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(widget)
    if min_width:
        area.setMinimumWidth(min_width)
    return area


def settings_and_panel(left: QWidget, right: QWidget, left_width: int = 380, scroll_panel: bool = True) -> QSplitter:
    """The common page body: settings (scrollable) on the left, run/results on the right (scrollable too
    unless ``scroll_panel`` is False: a panel whose own splitter shares out the height, like the Data
    step's preview, charts and report, would otherwise hand all of it to its first part)."""
    split = QSplitter(Qt.Orientation.Horizontal)
    area = scroll(left)
    # As wide as the form needs, so no field is cut off under the scroll bar.
    area.setMinimumWidth(max(300, left.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width() + 6))
    split.addWidget(area)
    # The panel scrolls too: in a low window (1024x700) its curves and tables keep their minimum heights
    # and a scroll bar appears, instead of being drawn over each other.
    if scroll_panel:
        panel = scroll(right)
        panel.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        right = panel
    split.addWidget(right)
    split.setStretchFactor(0, 0)
    split.setStretchFactor(1, 1)
    split.setSizes([max(left_width, area.minimumWidth()), 900])
    split.setChildrenCollapsible(False)
    return split


class StepPage(QWidget):
    key = ""
    title = ""
    description = ""
    blocks_body = True  # False: the page stays usable while showing what it needs

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        outer = QVBoxLayout(self)
        heading = QLabel(self.title, self)
        heading.setObjectName("pageTitle")
        outer.addWidget(heading)
        desc = QLabel(self.description, self)
        desc.setObjectName("pageDescription")
        desc.setWordWrap(True)
        outer.addWidget(desc)
        self.banner = QLabel(self)
        self.banner.setObjectName("needsBanner")
        self.banner.setWordWrap(True)
        self.banner.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.banner.hide()
        outer.addWidget(self.banner)
        self.body = QWidget(self)
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.body, 1)

    # ---------------------------------------------------------- overrides
    @property
    def project(self) -> Project:
        return self.ctx.project

    def needs(self) -> str:
        """What is missing before this step can be used ("" when ready)."""
        return ""

    def status_text(self) -> str:
        """Short state shown in the step list."""
        return ""

    def on_project_loaded(self) -> None:
        """A project was opened: show its values."""

    def on_run_changed(self) -> None:
        """The run folder changed (a job finished): show new results."""

    def on_shown(self) -> None:
        """The user navigated to this page."""

    def can_start(self) -> bool:
        return False

    def start(self, resume: bool = False) -> bool:
        return False

    def pending_work(self) -> bool:
        """True while a debounced background task is about to start."""
        return False

    def fit_width(self, width: int) -> None:
        """The window now gives this page ``width`` pixels: rearrange if it needs to (side by side or stacked)."""

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        # The page sits in a scroll area and is never narrower than its minimum, so its own width cannot say
        # how much room the window gives: the scroll area's viewport (the parent) does.
        viewport = self.parentWidget()
        if viewport is not None and not getattr(self, "_watching_viewport", False):
            viewport.installEventFilter(self)
            self._watching_viewport = True
            self.fit_width(viewport.width())
        super().showEvent(event)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize:
            self.fit_width(event.size().width())
        return super().eventFilter(watched, event)

    def forms(self) -> list[ConfigForm]:
        return []

    def settings_widgets(self) -> list[QWidget]:
        """What this step's running job locks: its settings (the forms, and any other pickers)."""
        return list(self.forms())

    # ------------------------------------------------------------- state
    def form_errors(self) -> list[tuple[str, str]]:
        return [e for f in self.forms() for e in f.errors()]

    def refresh_state(self) -> None:
        need = self.needs()
        self.banner.setText(need)
        self.banner.setVisible(bool(need))
        self.body.setEnabled(not (need and self.blocks_body))

    def ask(self, title: str, text: str) -> bool:
        return errors.ask(self.ctx.window, title, text)


class JobStepPage(StepPage):
    """A step that runs an engine job: run controls, runner wiring, resume."""

    job = ""
    event_jobs: tuple[str, ...] = ()
    resumable = False
    start_text = "&Start"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.controls = RunControls(self.start_text, resumable=self.resumable)
        self.controls.start_clicked.connect(lambda: self.start(False))
        self.controls.resume_clicked.connect(lambda: self.start(True))
        self.controls.cancel_clicked.connect(self.cancel)
        r = ctx.runner
        r.started.connect(self._runner_started)
        r.event.connect(self._runner_event)
        r.finished.connect(self._runner_finished)
        r.failed.connect(self._runner_failed)
        r.cancelled.connect(self._runner_cancelled)
        r.busy_changed.connect(lambda _b: self.update_controls())
        self.last_result: Any = None

    def set_body(self, settings: list[QWidget], panel: list[QWidget], left_width: int = 380) -> None:
        """The job page layout: ``settings`` stacked on the left (scrollable); the run controls,
        then ``panel`` on the right, where the last widget takes the spare height."""
        left = QWidget()
        lv = QVBoxLayout(left)
        for w in settings:
            lv.addWidget(w)
        lv.addStretch(1)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.controls)
        for i, w in enumerate(panel):
            rv.addWidget(w, 1 if i == len(panel) - 1 else 0)
        self.body_layout.addWidget(settings_and_panel(left, right, left_width=left_width))
        for form in self.forms():
            form.validity_changed.connect(lambda _ok: self.update_controls())

    # -------------------------------------------------------- job hooks
    def job_spec(self, resume: bool = False) -> JobSpec:
        kwargs = {"resume": True} if resume else {}
        return JobSpec(self.job, api.stage_job(self.job), (self.project.snapshot(),), kwargs)

    def on_job_started(self, resume: bool) -> None: ...
    def on_job_event(self, ev: Any) -> None: ...
    def on_job_finished(self, result: Any) -> None: ...
    def on_job_cancelled(self, result: Any) -> None: ...
    def on_job_failed(self, message: str) -> None: ...

    def prerequisites(self) -> str:
        """Page-specific needs ("" when ready)."""
        return ""

    # -------------------------------------------------------------- state
    @property
    def running(self) -> bool:
        return self.ctx.runner.current == self.job

    def needs(self) -> str:
        return self.prerequisites()

    def refresh_state(self) -> None:
        super().refresh_state()
        self.update_controls()

    def stage_status(self) -> str:
        return self.project.stage_status(self.job) if self.project.is_open else "missing"

    def can_resume(self) -> bool:
        """Only when the engine can really continue (a complete checkpoint, not a torn one)."""
        return self.resumable and self.project.is_open and self.project.state().resumable(self.job)

    def why_not_start(self) -> str:
        if self.ctx.runner.busy:
            return f"Another job ({self.ctx.runner.current}) is running."
        need = self.needs()
        if need:
            return need
        errs = self.form_errors()
        if errs:
            return "Fix the marked settings first: " + "; ".join(f"{k}: {m}" for k, m in errs[:3])
        return ""

    def can_start(self) -> bool:
        return not self.why_not_start()

    def status_text(self) -> str:
        if self.running:
            return "running"
        status = self.stage_status()
        plan = getattr(self.ctx.window, "stage_plan", {}) or {}
        if status == "completed" and plan.get(self.job) == "run":
            return "out of date"  # settings, data or an earlier step changed since it ran
        return STAGE_LABELS.get(status, "")

    def update_controls(self) -> None:
        running = self.running
        reason = "" if running else self.why_not_start()
        busy_other = self.ctx.runner.busy and not running
        text = ("Running… Its settings are locked until it ends (a change would not reach the running job)."
                if running else (reason if reason and not self.needs() else ""))
        if not running and self.needs():
            text = "Not available yet (see the note above)."
        if not text and not running:
            st = self.stage_status()
            text = {"completed": "Done. Start again to redo this step.",
                    "cancelled": "Cancelled." + (" Resume continues from the last checkpoint." if self.can_resume() else ""),
                    "running": "Interrupted." + (" Resume continues from the last checkpoint." if self.can_resume() else ""),
                    "failed": "The last run failed."}.get(st, "Ready.")
        for form in self.settings_widgets():  # the job runs on a snapshot: edits now would silently not apply
            form.setEnabled(not running)
        self.controls.set_state(running=running, can_start=not reason,
                                can_resume=self.can_resume() and not busy_other and not self.needs(), text=text)

    # ------------------------------------------------------------ actions
    def start(self, resume: bool = False) -> bool:
        reason = self.why_not_start()
        if reason:
            self.controls.state.setText(reason)
            return False
        if not resume and self.stage_status() == "completed" and not self.ask(
                f"Run {self.title.lower()} again?",
                f"The {self.title.lower()} step already finished. Running it again replaces its results "
                "(later steps built on them will be out of date)."):
            return False
        spec = self.job_spec(resume)
        return self.ctx.runner.start(spec.name, spec.target, *spec.args, **spec.kwargs)

    def cancel(self) -> None:
        if self.running:
            self.controls.state.setText("Cancelling at the next step…")
            self.ctx.runner.cancel()

    # --------------------------------------------------------- runner slots
    def _runner_started(self, name: str) -> None:
        if name == self.job:
            spec = self.ctx.runner.current_spec
            self.on_job_started(bool(spec and spec.kwargs.get("resume")))
        self.update_controls()

    def _runner_event(self, ev: Any) -> None:
        if ev.job in (self.event_jobs or (self.job,)):
            self.on_job_event(ev)

    def _runner_finished(self, name: str, result: Any) -> None:
        if name == self.job:
            self.last_result = result
            self.on_job_finished(result)
        self.update_controls()

    def _runner_failed(self, name: str, message: str, details: str) -> None:
        if name == self.job:
            self.on_job_failed(message)
        self.update_controls()

    def _runner_cancelled(self, name: str, result: Any) -> None:
        if name == self.job:
            self.on_job_cancelled(result)
        self.update_controls()


class TrainingStepPage(JobStepPage):
    """A training step (teacher, distill): live curves, the previous run's curves and result, resume.

    Subclasses create ``self.live`` (a LiveTrainingView) and implement :meth:`show_result`.
    """

    resumable = True

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self._history_loaded_for: str | None = None
        self.warnings = WarningBanner(self)  # "not clearly better than the classical baseline"; placed by the page

    def show_result(self, result: Any) -> None:
        """Show a completed run's typed result."""

    def reset_view(self) -> None:
        """Empty the live view (a new project, a new run)."""
        self.live.reset()
        self.live.status.setText("Not started")
        self.warnings.show_warnings([])

    def on_project_loaded(self) -> None:
        self.reset_view()
        self._history_loaded_for = None
        self.show_run_folder()

    def on_run_changed(self) -> None:
        if not self.running:
            self.show_run_folder()

    def show_run_folder(self, force: bool = False) -> None:
        """The curves of the previous run from the run folder, and its result if it completed."""
        run = str(self.project.run_path)
        if (self._history_loaded_for == run and not force) or self.running:
            return
        self._history_loaded_for = run
        self.reset_view()
        state = self.project.state()
        records = state.history(self.job)
        self.live.load_history(records)
        result = state.result(self.job)
        if result is not None:
            self.show_result(result)
        elif records:
            self.live.status.setText(f"Previous run: {state.status(self.job)}")

    def on_job_started(self, resume: bool) -> None:
        self.reset_view()
        if resume:  # show the curves up to the checkpoint, then continue live
            self.live.load_history(self.project.state().history(self.job))
        self._history_loaded_for = str(self.project.run_path)

    def on_job_event(self, ev: Any) -> None:
        self.live.handle_event(ev)

    def on_job_finished(self, result: Any) -> None:
        self.live.flush()
        self.show_result(result)

    def on_job_cancelled(self, result: Any) -> None:
        self.live.status.setText(CANCELLED_TEXT)
        self.live.flush()

    def on_job_failed(self, message: str) -> None:
        self.live.status.setText("Failed: " + message.splitlines()[0])
