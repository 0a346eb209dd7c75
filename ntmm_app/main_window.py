"""The main window: step list, pages, project menu, job runner, status bar."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QColor, QFont, QIcon, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from ntmm_engine import api
from ntmm_engine.core.errors import NTMMError

from . import desktop, errors
from . import settings as settings_mod
from .pages.base import AppContext, JobStepPage, StepPage
from .project import Project
from .settings import Settings
from .workers import JobRunner, JobSpec, TaskManager, job_title

PROJECT_FILTER = "NTMM project (*.yaml *.yml *.json);;All files (*)"
STATE_COLORS = {"done": "#2e8b57", "running": "#1d6fa5", "failed": "#c0392b", "cancelled": "#d48a00",
                "interrupted": "#d48a00", "incomplete": "#d48a00", "out of date": "#d48a00", "blocked": "#a8a8a8",
                "": "#4f7ea8"}
STATE_MARKS = {"done": "✓", "failed": "!", "cancelled": "‖", "interrupted": "‖", "incomplete": "?", "out of date": "↻"}


class PageArea(QScrollArea):
    """Scrolls a page only when the window is smaller than the page's minimum size.

    (``widgetResizable`` would size a page with word-wrapped labels by its
    height-for-width, i.e. its *preferred* height: far taller than the window.)
    """

    def __init__(self) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(False)

    def setWidget(self, widget: QWidget) -> None:  # noqa: N802 (Qt naming)
        super().setWidget(widget)
        widget.installEventFilter(self)
        self.fit()

    def fit(self) -> None:
        w = self.widget()
        if w is None:
            return
        need = w.minimumSizeHint().expandedTo(w.minimumSize())
        size = self.maximumViewportSize()  # the viewport without scroll bars
        if need.width() > size.width():   # a horizontal bar takes height away
            size.setHeight(size.height() - self.horizontalScrollBar().sizeHint().height())
        if need.height() > size.height():
            size.setWidth(size.width() - self.verticalScrollBar().sizeHint().width())
        w.resize(max(size.width(), need.width()), max(size.height(), need.height()))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.fit()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.LayoutRequest and obj is self.widget():
            QTimer.singleShot(0, self, self.fit)
        return False


def step_icon(number: int, state: str, dpr: float = 1.0, size: int = 26) -> QIcon:
    """A numbered circle coloured by the step's state (a check mark when done)."""
    pix = QPixmap(int(size * dpr), int(size * dpr))
    pix.setDevicePixelRatio(dpr)
    pix.fill(QColor(0, 0, 0, 0))
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = QColor(STATE_COLORS.get(state, STATE_COLORS[""]))
    p.setBrush(color)
    p.setPen(color)
    p.drawEllipse(1, 1, size - 2, size - 2)
    font = QFont()
    font.setPixelSize(int(size * 0.55))
    font.setBold(True)
    p.setFont(font)
    p.setPen(QColor("white"))
    p.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, STATE_MARKS.get(state, str(number)))
    p.end()
    return QIcon(pix)


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        settings_mod.set_current(self.settings)
        self.project = Project(self)
        self.runner = JobRunner(self)
        self.tasks = TaskManager(self)
        self.ctx = AppContext(self.project, self.runner, self.tasks, self.settings, self)
        self._closing = False
        self._discard = False
        self.stage_plan: dict[str, str] = {}  # the engine pipeline's run | resume | skip per stage
        self.plan_error = ""  # why the plan could not be made (shown by Run all)
        self.setWindowTitle("NTMM[*]")

        from .pages.benchmark_page import BenchmarkPage
        from .pages.data_page import DataPage
        from .pages.distill_page import DistillPage
        from .pages.optimize_page import OptimizePage
        from .pages.predict_page import PredictPage
        from .pages.teacher_page import TeacherPage
        self.page_classes: list[type[StepPage]] = [DataPage, TeacherPage, DistillPage, OptimizePage, BenchmarkPage,
                                                   PredictPage]
        # Pages are built on first use, and the rest shortly after the window is shown, so it appears fast.
        self._pages: dict[int, StepPage] = {}
        self._build_ui()
        self._build_menus()

        self.project.loaded.connect(self._project_loaded)
        self.project.dirty_changed.connect(self.setWindowModified)
        self.project.changed.connect(lambda _k: self._schedule_refresh())
        self.project.status_changed.connect(self._run_changed)
        self.runner.started.connect(self._job_started)
        self.runner.finished.connect(self._job_finished)
        self.runner.failed.connect(self._job_failed)
        self.runner.cancelled.connect(self._job_cancelled)
        self.runner.busy_changed.connect(self._busy_changed)
        self.runner.queue_done.connect(self._queue_done)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(150)
        self._refresh_timer.timeout.connect(self.refresh_steps)
        self._warmup_timer = QTimer(self)  # active: the warm-up imports are due but not started
        self._warmup_timer.setSingleShot(True)
        self._warmup_timer.timeout.connect(self._start_warmup)
        self._show_timer = QTimer(self)
        self._show_timer.setSingleShot(True)
        self._show_timer.setInterval(150)
        self._show_timer.timeout.connect(self._show_current)

        geometry = self.settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        self.refresh_steps()

    # ================================================================ UI
    def _build_ui(self) -> None:
        central = QWidget(self)
        outer = QHBoxLayout(central)
        side = QVBoxLayout()
        self.steps = QListWidget(central)
        self.steps.setObjectName("stepList")
        self.steps.setFixedWidth(190)
        self.steps.setSpacing(2)
        self.steps.setToolTip("Steps of the project; you can visit any step")
        self.steps.setIconSize(QSize(26, 26))
        self.steps.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.steps.setTextElideMode(Qt.TextElideMode.ElideRight)
        for cls in self.page_classes:
            self.steps.addItem(QListWidgetItem(cls.title))
        side.addWidget(self.steps, 1)
        self.run_all_button = QPushButton("Run &all remaining")
        self.run_all_button.setToolTip("Train the teacher, distil, optimize and benchmark, one after another, "
                                       "skipping steps that are done (Ctrl+Shift+R)")
        self.run_all_button.clicked.connect(self.run_all)
        side.addWidget(self.run_all_button)
        outer.addLayout(side)

        right = QVBoxLayout()
        self.stack = QStackedWidget(central)
        for _cls in self.page_classes:
            # Scrollable, so a small screen or 200% scaling never forces the window past the screen.
            self.stack.addWidget(PageArea())
        right.addWidget(self.stack, 1)
        nav = QHBoxLayout()
        st = self.style()
        self.back_button = QPushButton(st.standardIcon(QStyle.StandardPixmap.SP_ArrowBack), "&Back")
        self.back_button.setToolTip("Previous step (Alt+B, Ctrl+Left)")
        self.next_button = QPushButton(st.standardIcon(QStyle.StandardPixmap.SP_ArrowForward), "&Next")
        self.next_button.setToolTip("Next step (Alt+N, Ctrl+Right)")
        self.back_button.clicked.connect(self.go_back)
        self.next_button.clicked.connect(self.go_next)
        nav.addWidget(self.back_button)
        nav.addStretch(1)
        nav.addWidget(self.next_button)
        right.addLayout(nav)
        outer.addLayout(right, 1)
        self.setCentralWidget(central)
        self.steps.currentRowChanged.connect(self._step_selected)
        self.page_at(0)
        self.steps.setCurrentRow(0)

        sb = self.statusBar()
        self.job_label = QLabel("Ready")
        self.job_progress = QProgressBar()
        self.job_progress.setRange(0, 0)
        self.job_progress.setMaximumWidth(160)
        self.job_progress.setMaximumHeight(14)
        self.job_progress.hide()
        self.project_label = QLabel("")
        self.project_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        sb.addWidget(self.job_label)
        sb.addWidget(self.job_progress)
        sb.addPermanentWidget(self.project_label)

        # Tab order: steps -> page -> navigation
        QWidget.setTabOrder(self.steps, self.run_all_button)
        QWidget.setTabOrder(self.back_button, self.next_button)

    def _action(self, menu: QMenu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                act.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(slot)
        menu.addAction(act)
        return act

    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self._action(f, "&New project…", self.new_project, QKeySequence.StandardKey.New, "Create a project file")
        self._action(f, "&Open project…", self.open_project_dialog, QKeySequence.StandardKey.Open)
        self._action(f, "Open &demo project", self.open_demo, None, "The built-in demo with synthetic clinical notes")
        self.recent_menu = f.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        f.addSeparator()
        self._action(f, "&Save", self.save, QKeySequence.StandardKey.Save)
        self._action(f, "Save &as…", self.save_as, QKeySequence.StandardKey.SaveAs)
        f.addSeparator()
        self._action(f, "Open run &folder", self.open_run_folder, None, "Show the project's run folder")
        self._action(f, "Compare r&uns…", self.show_runs, "Ctrl+Shift+U",
                     "The run folders of this project and others side by side: test macro-F1, fastest model")
        f.addSeparator()
        self._action(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        r = mb.addMenu("&Run")
        self.start_action = self._action(r, "&Start this step", self.start_current, "Ctrl+R")
        self.cancel_action = self._action(r, "&Cancel the running job", self.cancel_job, "Esc")
        self.cancel_action.setEnabled(False)
        self._action(r, "Run &all remaining steps", self.run_all, "Ctrl+Shift+R")

        g = mb.addMenu("&Go")
        self._action(g, "&Next step", self.go_next, ["Ctrl+Right", "Ctrl+PgDown"])
        self._action(g, "&Previous step", self.go_back, ["Ctrl+Left", "Ctrl+PgUp"])
        for i, cls in enumerate(self.page_classes, start=1):
            self._action(g, f"&{i} {cls.title}", lambda _c=False, i=i: self.go_to(i - 1), f"Ctrl+{i}")

        h = mb.addMenu("&Help")
        self._action(h, "&About NTMM", self.about)
        self._action(h, "Open &log folder", self.open_log_folder)

    # ================================================================ pages
    def page_at(self, index: int) -> StepPage:
        """The page of step ``index``, built now if it was not yet."""
        page = self._pages.get(index)
        if page is None:
            page = self.page_classes[index](self.ctx)
            self._pages[index] = page
            self.stack.widget(index).setWidget(page)
            if self.project.is_open:
                page.on_project_loaded()
            self._update_step_item(index)
        return page

    @property
    def pages(self) -> list[StepPage]:
        """Every page (builds the ones not built yet)."""
        return [self.page_at(i) for i in range(len(self.page_classes))]

    def built_pages(self) -> list[StepPage]:
        return [self._pages[i] for i in sorted(self._pages)]

    def page(self, key: str) -> StepPage:
        return self.page_at(next(i for i, c in enumerate(self.page_classes) if c.key == key))

    def _build_next_page(self) -> None:
        missing = [i for i in range(len(self.page_classes)) if i not in self._pages]
        if missing:
            self.page_at(missing[0])
            QTimer.singleShot(0, self, self._build_next_page)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().showEvent(event)
        if len(self._pages) < len(self.page_classes):
            QTimer.singleShot(0, self, self._build_next_page)

    # =========================================================== navigation
    @property
    def current_page(self) -> StepPage:
        return self.page_at(self.stack.currentIndex())

    def go_to(self, index: int) -> None:
        if 0 <= index < len(self.page_classes):
            self.steps.setCurrentRow(index)

    def go_next(self) -> None:
        self.go_to(self.stack.currentIndex() + 1)

    def go_back(self) -> None:
        self.go_to(self.stack.currentIndex() - 1)

    def _step_selected(self, row: int) -> None:
        if row < 0:
            return
        self.stack.setCurrentIndex(row)
        self.back_button.setEnabled(row > 0)
        self.next_button.setEnabled(row < len(self.page_classes) - 1)
        page = self.page_at(row)
        page.refresh_state()
        if self.project.is_open:
            page.on_shown()

    def _schedule_refresh(self) -> None:
        self._refresh_timer.start()

    def refresh_steps(self) -> None:
        """Re-evaluate what each step needs and its state in the step list."""
        self.stage_plan, self.plan_error = {}, ""
        if self.project.is_open:
            try:
                self.stage_plan = api.plan(self.project.config)
            except NTMMError as exc:  # Run all shows it; the step list keeps the stages' own states
                self.plan_error = str(exc)
        for i in range(len(self.page_classes)):
            self._update_step_item(i)
        self.run_all_button.setEnabled(self.project.is_open and not self.runner.busy)
        self.start_action.setEnabled(not self.runner.busy)

    def _update_step_item(self, i: int) -> None:
        item = self.steps.item(i)
        page = self._pages.get(i)
        if page is None:  # not built yet (a moment after start-up)
            item.setText(self.page_classes[i].title)
            item.setIcon(step_icon(i + 1, "", self.devicePixelRatioF()))
            return
        page.refresh_state()
        status = page.status_text() if self.project.is_open else ""
        need = page.needs() if self.project.is_open else "Open a project first."
        state = status if status in STATE_COLORS else ("blocked" if need and page.blocks_body else "")
        item.setText(page.title + (f"\n{status}" if status else ""))
        item.setIcon(step_icon(i + 1, state, self.devicePixelRatioF()))
        item.setToolTip(need or page.description)
        pal = self.palette()
        item.setForeground(pal.color(pal.ColorGroup.Disabled, pal.ColorRole.Text) if need and page.blocks_body
                           else pal.color(pal.ColorRole.Text))

    # ============================================================ projects
    def open_project(self, path: str | Path, *, ask_save: bool = True) -> bool:
        if self.runner.busy:
            errors.show_error(self, "A job is running", "Wait for the running job to finish, or cancel it, "
                                                       "before opening another project.")
            return False
        if ask_save and not self.maybe_save():
            return False
        try:
            self.project.open(path)
        except NTMMError as exc:
            errors.show_error(self, "Cannot open the project", str(exc))
            if not Path(path).exists():
                self.settings.remove_recent_project(path)
            return False
        self.settings.add_recent_project(self.project.path)
        self.settings.set_last_folder("projects", self.project.path)
        return True

    def open_demo(self) -> bool:
        try:
            path = api.demo_project_path()
        except (NTMMError, OSError) as exc:
            errors.show_exception(self, "Cannot create the demo project", exc)
            return False
        return self.open_project(path)

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", self.settings.last_folder("projects"), PROJECT_FILTER)
        if path:
            self.open_project(path)

    def new_project(self) -> None:
        if not self.maybe_save():
            return
        start = str(Path(self.settings.last_folder("projects")) / "ntmm.yaml")
        path, _ = QFileDialog.getSaveFileName(self, "New project: where to save the project file", start, PROJECT_FILTER)
        if not path:
            return
        try:
            written = api.write_starter(path, force=True)  # the dialog already asked before overwriting
        except NTMMError as exc:
            errors.show_error(self, "Cannot create the project", str(exc))
            return
        if self.open_project(written, ask_save=False):
            self.go_to(0)

    def save(self) -> bool:
        if not self.project.is_open:
            return False
        try:
            self.project.save()
        except NTMMError as exc:
            errors.show_error(self, "Cannot save the project", str(exc))
            return False
        self.statusBar().showMessage(f"Saved {self.project.path}", 3000)
        return True

    def save_as(self) -> bool:
        if not self.project.is_open:
            return False
        start = str(self.project.path) if self.project.path else self.settings.last_folder("projects")
        path, _ = QFileDialog.getSaveFileName(self, "Save project as", start, PROJECT_FILTER)
        if not path:
            return False
        try:
            self.project.save(path)
        except NTMMError as exc:
            errors.show_error(self, "Cannot save the project", str(exc))
            return False
        self.settings.add_recent_project(self.project.path)
        self.settings.set_last_folder("projects", path)
        return True

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; False if the user cancelled."""
        if not self.project.dirty or self._discard:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save the changes to {self.project.path.name if self.project.path else 'the project'}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_projects()
        for i, p in enumerate(recent, start=1):
            act = self.recent_menu.addAction(f"&{i} {p}" if i < 10 else p)
            act.triggered.connect(lambda _c=False, p=p: self.open_project(p))
            act.setEnabled(Path(p).exists())
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("&Clear list", self.settings.clear_recent_projects)

    def _project_loaded(self) -> None:
        cfg = self.project.config
        self.setWindowTitle(f"NTMM – {cfg.name} ({self.project.path.name})[*]")
        self.setWindowModified(self.project.dirty)
        self.project_label.setText(f"{self.project.path}  ·  run folder {cfg.run_path}")
        for page in self.built_pages():
            page.on_project_loaded()
        self.refresh_steps()
        # Slow reads (data preview) start once the window is up, not on the start-up path.
        self._show_timer.start()

    def _show_current(self) -> None:
        if self.isVisible() and self.project.is_open:
            self.current_page.on_shown()

    def start_warmup(self, delay_ms: int = 500) -> None:
        """Import torch/transformers in the background shortly after the window shows (see warmup.py)."""
        self._warmup_timer.start(delay_ms)

    def _start_warmup(self) -> None:
        from . import warmup

        if self.runner.busy or self.tasks.busy("engine-warmup"):
            return  # a running job has imported (or is importing) what it needs itself
        self.tasks.submit("engine-warmup", warmup.preload)

    def is_idle(self) -> bool:
        """No background task running or about to start (tests and screenshots wait for this)."""
        return (not self._show_timer.isActive() and not self._warmup_timer.isActive() and not self.tasks.busy()
                and not any(p.pending_work() for p in self.built_pages()))

    def open_run_folder(self) -> None:
        if self.project.is_open:
            folder = self.project.run_path
            folder.mkdir(parents=True, exist_ok=True)
            desktop.reveal(self, folder, "run folder")

    def show_runs(self) -> None:
        """The Runs view (a window of its own, so it can stay open beside the steps)."""
        from .widgets.runs_view import RunsDialog

        if getattr(self, "_runs_dialog", None) is None:
            self._runs_dialog = RunsDialog(self.tasks, self.settings, self._runs_scope, self)
        self._runs_dialog.show()
        self._runs_dialog.raise_()
        self._runs_dialog.refresh()

    def _runs_scope(self) -> tuple[str | None, str | None]:
        """(this project's run folder, the folder whose run folders are listed)."""
        if not self.project.is_open or self.project.path is None:
            return None, None
        return str(self.project.run_path), str(self.project.path.parent)

    def open_log_folder(self) -> None:
        desktop.reveal(self, errors.log_path().parent, "log folder")

    def about(self) -> None:
        QMessageBox.about(self, "About NTMM",
                          "<b>NTMM</b> fine-tunes a teacher transformer on labelled medical text, distils it into a "
                          "small student, optimizes it (INT8/ONNX), benchmarks the variants and predicts.<br><br>"
                          "The same jobs run from the command line: <tt>ntmm --help</tt>.<br>"
                          "Not for clinical use.")

    # ================================================================ jobs
    def start_current(self) -> None:
        page = self.current_page
        if isinstance(page, JobStepPage):
            page.start(False)

    def cancel_job(self) -> None:
        if self.runner.busy:
            self.job_label.setText(f"Cancelling {job_title(self.runner.current).lower()} at the next step…")
            self.runner.cancel()

    def run_all(self) -> bool:
        """Run every stage that is not done and up to date: the data check first, then the engine's plan.

        A plan that cannot be made is shown, never taken as "run everything";
        completed results are replaced only after the same question a single
        Start asks.
        """
        if self.runner.busy or not self.project.is_open:
            return False
        if not self.project.config.data.train:
            errors.show_error(self, "Cannot run all steps", "Choose the training data on the Data step first.")
            self.go_to(0)
            return False
        problems = [f"{p.title}: {k}: {m}" for p in self.pages for k, m in p.form_errors()]
        if problems:
            errors.show_error(self, "Cannot run all steps", "Fix the marked settings first:\n" + "\n".join(problems[:6]))
            return False
        config = self.project.snapshot()
        try:
            plan = api.plan(config)
        except NTMMError as exc:
            errors.show_error(self, "Cannot run all steps", f"NTMM cannot tell which steps are done: {exc}")
            return False
        todo = [s for s in api.STAGES if plan.get(s, "skip") != "skip"]
        if not todo:
            QMessageBox.information(self, "Nothing to run", "Every step of this project is done and up to date. "
                                    "Start a step on its page to run it again.")
            return False
        replaced = api.replaced_by(config, plan)
        if replaced:
            titles = ", ".join(self.page(s).title for s in replaced)
            if not errors.ask(self, "Replace finished steps?",
                              f"{titles} finished earlier, but settings, data or an earlier step changed since. Running "
                              "all remaining steps replaces their results (a trained model is deleted and trained "
                              "again). Continue?"):
                return False
        # The data check goes first: a file that cannot be read stops the queue before any stage has started.
        # The classical baseline has no page of its own (the Data step shows it): its job is queued directly.
        specs = [JobSpec("data", api.check_data, (config,))]
        specs += [JobSpec(s, api.stage_job(s), (config,)) if s == "classical" else
                  self.page(s).job_spec(resume=plan[s] == "resume") for s in todo]
        return self.runner.run_queue(specs)

    def _job_started(self, name: str) -> None:
        self.job_label.setText(f"Running {job_title(name).lower()}…" + (f" (then {', '.join(self.runner.pending)})" if self.runner.pending else ""))
        self.job_progress.show()
        if self.runner.queued_run:  # "Run all": follow the job to its page
            idx = next((i for i, c in enumerate(self.page_classes) if c.key == name), None)
            if idx is not None:
                self.go_to(idx)
        self.refresh_steps()

    def _job_finished(self, name: str, result) -> None:
        self.statusBar().showMessage(f"{job_title(name)} finished.", 5000)
        self.project.notify_run_changed()

    def _job_failed(self, name: str, message: str, details: str) -> None:
        self.project.notify_run_changed()
        if name == "data" and not self._closing:  # Run all stopped before any step: show the data and why
            self.go_to(0)
            self.page("data").reload()
        if not self._closing:
            errors.show_error(self, f"{job_title(name)} failed", message, details)
        else:
            errors.log_error(f"{name} failed", message, details)

    def _job_cancelled(self, name: str, result) -> None:
        self.statusBar().showMessage(f"{job_title(name)} cancelled.", 5000)
        self.project.notify_run_changed()

    def _queue_done(self, ok: bool) -> None:
        if ok:
            self.statusBar().showMessage("All remaining steps are done.", 8000)
            self.go_to(len(self.page_classes) - 1)

    def _busy_changed(self, busy: bool) -> None:
        self.cancel_action.setEnabled(busy)
        if not busy:
            self.job_label.setText("Ready")
            self.job_progress.hide()
        self.refresh_steps()
        if not busy and self._closing:
            QTimer.singleShot(0, self.close)

    def _run_changed(self) -> None:
        for page in self.built_pages():
            page.on_run_changed()
        if getattr(self, "_runs_dialog", None) is not None and self._runs_dialog.isVisible():
            self._runs_dialog.refresh()
        self.refresh_steps()
        if self.isVisible():
            self.current_page.on_shown()

    # ================================================================ close
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt naming)
        if not self._closing:
            if not self.maybe_save():
                event.ignore()
                return
            self._discard = True  # asked once; do not ask again when the job has stopped
            if self.runner.busy:
                if not errors.ask(self, "A job is running", f"{job_title(self.runner.current)} is running. Cancel it and "
                                  "quit? Training keeps a checkpoint, so it can be resumed later."):
                    self._discard = False
                    event.ignore()
                    return
                self._closing = True
                self.cancel_job()
                self.job_label.setText("Stopping the job before quitting…")
                event.ignore()  # closed again by _busy_changed when the job has stopped
                return
        elif self.runner.busy:
            self.job_label.setText("Still stopping the job before quitting…")
            event.ignore()
            return
        self.settings.set_geometry(self.saveGeometry())
        self.settings.sync()
        self.tasks.shutdown()
        if settings_mod.current() is self.settings:
            settings_mod.set_current(None)
        event.accept()
