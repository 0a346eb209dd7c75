"""Teacher step: choose the base model and recipe, fine-tune, watch it learn."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QPushButton, QWidget

from ntmm_engine import api
from ntmm_engine.core.config import BUNDLED_MINILM, field_help

from .. import errors
from ..widgets.config_form import ConfigForm
from ..widgets.live_plot import LiveTrainingView
from ..widgets.path_edit import PathEdit
from .base import AppContext, TrainingStepPage

RECIPE_GROUPS = ("Optimization", "Schedule", "Regularization", "Early stopping", "Precision & device", "Tracking", "Model")
MODEL_KINDS = [("bundled", "Bundled MiniLM (all-MiniLM-L6-v2, offline)"), ("folder", "Local model folder"),
               ("hub", "Hugging Face hub name")]


class BaseModelPicker(QGroupBox):
    """Bundled MiniLM, a local save_pretrained folder, or a hub name -> one config string."""

    def __init__(self, page: "TeacherPage") -> None:
        super().__init__("Base model")
        self.page = page
        form = QFormLayout(self)
        self.kind = QComboBox()
        for key, text in MODEL_KINDS:
            self.kind.addItem(text, key)
        self.kind.setToolTip(field_help("teacher", "base_model"))
        self.source = PathEdit(file=False, folder=True, folder_kind="models", placeholder="folder or org/model-name")
        self.source.setToolTip(field_help("teacher", "base_model"))
        lab = QLabel("&Model")
        lab.setBuddy(self.kind)
        form.addRow(lab, self.kind)
        self.source_label = QLabel("Source")
        self.source_label.setBuddy(self.source.edit)
        form.addRow(self.source_label, self.source)
        self.kind.activated.connect(self._kind_changed)
        self.source.committed.connect(self._source_committed)

    def refresh(self, value: str) -> None:
        kind = "bundled" if value in ("", BUNDLED_MINILM, "bundled", "bundled:minilm") else (
            "folder" if value.startswith((".", "/", "~")) or "\\" in value or value.count("/") > 1 else "hub")
        if kind == "hub":
            from pathlib import Path
            p = Path(value).expanduser()
            if p.is_absolute() or (self.page.project.is_open and (self.page.project.config.resolve(value)).exists()):
                kind = "folder"
        self.kind.setCurrentIndex(self.kind.findData(kind))
        self.source.setText("" if kind == "bundled" else value)
        self._show_source(kind)

    def _show_source(self, kind: str) -> None:
        self.source.setVisible(kind != "bundled")
        self.source_label.setVisible(kind != "bundled")
        if self.source.folder_button:
            self.source.folder_button.setVisible(kind == "folder")
        self.source_label.setText("Folder" if kind == "folder" else "Hub name")

    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        self._show_source(kind)
        if kind == "bundled":
            self._apply(BUNDLED_MINILM)
        elif self.source.text():
            self._apply(self.source.text())
        else:
            self.source.edit.setFocus()

    def _source_committed(self, text: str) -> None:
        if text:
            self._apply(text)

    def _apply(self, value: str) -> None:
        try:
            self.page.project.set("teacher.base_model", value)
        except Exception as exc:
            errors.show_exception(self.page.ctx.window, "Invalid base model", exc)
            return
        self.page.ctx.window.page("data").on_base_model_changed()


class TeacherPage(TrainingStepPage):
    key = "teacher"
    title = "Teacher"
    description = ("Fine-tune a pretrained encoder on your data. It becomes the teacher the small student learns from. "
                   "Hover a setting for what it does; the defaults are a sound start.")
    job = "teacher"
    start_text = "&Start training"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.model_picker = BaseModelPicker(self)
        self.form = ConfigForm(ctx.project, "teacher", exclude=("base_model",), group_order=RECIPE_GROUPS)
        self.lr_button = QPushButton("F&ind…")
        self.lr_button.setToolTip("Learning-rate range test: train a throw-away copy of the base model for a few "
                                  "steps with a growing learning rate, plot the loss and suggest a rate")
        self.lr_button.clicked.connect(self.open_lr_finder)
        self.form.editor("learning_rate").add_trailing(self.lr_button)
        self._lr_dialog = None
        self.live = LiveTrainingView(("teacher",))
        self.plan_label = QLabel("")
        self.plan_label.setObjectName("planLabel")
        self.plan_label.setWordWrap(True)
        self.plan_label.setToolTip("How long training will be: epochs auto sizes it in optimizer steps for the data "
                                   "(see the README), measured over a few real steps on this machine")
        self.set_body([self.model_picker, self.form], [self.plan_label, self.warnings, self.live])
        self._plan_timer = QTimer(self)
        self._plan_timer.setSingleShot(True)
        self._plan_timer.setInterval(800)  # one estimate after a burst of edits
        self._plan_timer.timeout.connect(self.estimate_plan)
        self._plan_for: str | None = None
        ctx.project.changed.connect(self._setting_changed)

    def forms(self) -> list[ConfigForm]:
        return [self.form]

    def open_lr_finder(self):
        """Show the LR range-test dialog (one per page, kept so a running test stays visible)."""
        if self._lr_dialog is None:
            from ..widgets.lr_finder_dialog import LRFinderDialog

            self._lr_dialog = LRFinderDialog(
                self.ctx.runner, snapshot=self.project.snapshot,
                current_lr=lambda: float(self.project.get("teacher.learning_rate")), apply=self._apply_lr,
                settings=self.ctx.settings, parent=self)
        self._lr_dialog.show_for_project()
        return self._lr_dialog

    def _apply_lr(self, value: float) -> None:
        self.project.set("teacher.learning_rate", value)
        self.form.refresh()

    def prerequisites(self) -> str:
        if not self.project.config.data.train:
            return "Needs training data: choose a data file on the Data step first."
        return ""

    def on_project_loaded(self) -> None:
        self.model_picker.refresh(self.project.config.teacher.base_model)
        self.form.refresh()
        self._plan_for = None
        self.plan_label.setText("")
        super().on_project_loaded()

    def on_shown(self) -> None:
        if self._plan_for != self._plan_key():
            self._plan_timer.start()

    def pending_work(self) -> bool:
        return self._plan_timer.isActive()

    # ------------------------------------------------------------- the plan
    def _plan_key(self) -> str:
        c = self.project.config
        return repr((c.data, c.seed, c.teacher))

    def _setting_changed(self, dotted: str) -> None:
        if dotted.startswith(("data.", "teacher.", "seed")) and self.isVisible():
            self._plan_timer.start()

    def estimate_plan(self) -> None:
        """How many steps the teacher will train, and for how long on this machine (a background task)."""
        if not self.project.is_open or not self.project.config.data.train or self.ctx.runner.busy:
            return
        self._plan_for = self._plan_key()
        self.plan_label.setText("Planning the training (timing a few steps on this machine)…")
        self.ctx.tasks.submit("teacher-plan", api.teacher_plan, self.project.snapshot(), on_done=self._plan_done,
                              on_error=lambda m, _d: self.plan_label.setText("Cannot plan the training: " + m.splitlines()[0]))

    def _plan_done(self, plan: api.TrainingPlan) -> None:
        self.plan_label.setText("Plan: " + plan.summary() + ".")
        self.plan_label.setToolTip(plan.rule)

    def show_result(self, result: api.TrainResult) -> None:
        self.live.metrics.show_metrics(result.metrics.get("test"), title="Test split",
                                       baseline=result.classical.get("test"))
        self.warnings.show_warnings([result.baseline_check.warning if result.baseline_check else ""])
        self.live.status.setText(f"Completed ({result.stop_reason}); model in {result.model_dir}")
        self.live.status.setToolTip(self.live.status.text())
        total = max(int(result.total_steps or 1), 1)
        self.live.progress.setRange(0, total)
        self.live.progress.setValue(min(int(result.steps_done or total), total))
        self.live.tabs.setCurrentWidget(self.live.metrics)
