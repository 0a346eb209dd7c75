"""Distill step: build a small student and train it to imitate the teacher."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ntmm_engine import api
from ntmm_engine.core.config import field_help
from ntmm_engine.core.errors import ConfigError

from ..widgets.agreement_view import Agreement, AgreementView
from ..widgets.charts import BarChart
from ..widgets.config_form import ConfigForm
from ..widgets.live_plot import LiveTrainingView
from ..widgets.metrics_view import number_item, read_only_table, score_item, text_item
from ..widgets.path_edit import PathEdit
from .base import AppContext, TrainingStepPage
from .teacher_page import RECIPE_GROUPS

STUDENT_KINDS = (("shrink", "Shrin&k the teacher (keep some layers)"),
                 ("checkpoint", "Another &pretrained checkpoint"),
                 ("fresh", "A fresh small model (random &weights)"))
RECIPE_FIELDS = ["epochs", "learning_rate", "batch_size", "gradient_accumulation_steps", "eval_batch_size",
                 "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon", "warmup_ratio", "lr_scheduler",
                 "label_smoothing", "max_grad_norm", "precision", "device", "early_stopping_patience",
                 "early_stopping_metric", "early_stopping_threshold", "evaluations", "logging_steps", "save_total_limit",
                 "report_to", "trust_remote_code"]
DISTILL_FIELDS = ["temperature", "alpha", "cosine_weight", "mse_weight", "cache_teacher", "baseline", "seeds",
                  "unlabelled_weight", "unlabelled_per_epoch", "unlabelled_min_confidence"]
FRESH_FIELDS = ["fresh_layers", "fresh_hidden_size", "fresh_heads", "fresh_intermediate_size"]


class StudentPicker(QGroupBox):
    def __init__(self, page: "DistillPage") -> None:
        super().__init__("Student")
        self.page = page
        lay = QVBoxLayout(self)
        self.group = QButtonGroup(self)
        self.radios: dict[str, QRadioButton] = {}
        for i, (key, text) in enumerate(STUDENT_KINDS):
            rb = QRadioButton(text)
            rb.setToolTip(field_help("distill", "student"))
            self.group.addButton(rb, i)
            self.radios[key] = rb
            lay.addWidget(rb)
        self.stack = QStackedWidget()
        lay.addWidget(self.stack)

        shrink = QWidget()
        sf = QFormLayout(shrink)
        sf.setContentsMargins(0, 0, 0, 0)
        self.layers = QSpinBox()
        self.layers.setRange(1, 96)
        self.layers.setToolTip(field_help("distill", "num_layers"))
        self.indices = QLineEdit()
        self.indices.setPlaceholderText("e.g. 0, 3, 5 (empty = spread evenly)")
        self.indices.setToolTip(field_help("distill", "layer_indices"))
        self.indices_error = QLabel()
        self.indices_error.setObjectName("fieldError")
        self.indices_error.hide()
        self.teacher_info = QLabel()
        self.teacher_info.setObjectName("hint")
        lab = QLabel("La&yers kept")
        lab.setBuddy(self.layers)
        sf.addRow(lab, self.layers)
        lab2 = QLabel("Layer in&dices")
        lab2.setBuddy(self.indices)
        sf.addRow(lab2, self.indices)
        sf.addRow("", self.indices_error)
        sf.addRow("", self.teacher_info)
        self.stack.addWidget(shrink)

        ckpt = QWidget()
        cf = QFormLayout(ckpt)
        cf.setContentsMargins(0, 0, 0, 0)
        self.checkpoint = PathEdit(file=False, folder=True, folder_kind="models", placeholder="folder or hub name")
        self.checkpoint.setToolTip(field_help("distill", "student_checkpoint"))
        cf.addRow("Checkpoint", self.checkpoint)
        self.stack.addWidget(ckpt)

        # fresh_* fields are "advanced" in the config; with "fresh" chosen they are the whole point: shown.
        self.fresh_form = ConfigForm(page.project, "distill", fields=FRESH_FIELDS, grouped=False, collapse_advanced=False)
        self.stack.addWidget(self.fresh_form)

        self.teacher = PathEdit(file=False, folder=True, folder_kind="models", placeholder="empty = this project's teacher")
        self.teacher.setToolTip(field_help("distill", "teacher"))
        tf = QFormLayout()
        tf.addRow("&Teacher", self.teacher)
        lay.addLayout(tf)

        self.group.idClicked.connect(self._kind_clicked)
        self.layers.valueChanged.connect(lambda v: self._set("distill.num_layers", int(v)))
        self.indices.textEdited.connect(self._indices_edited)
        self._kind_after_checkpoint = False
        self.checkpoint.committed.connect(self._checkpoint_committed)
        self.teacher.committed.connect(lambda v: (self._set("distill.teacher", v), self.update_teacher_info(),
                                                  self.page.ctx.window.refresh_steps()))

    def _set(self, dotted: str, value: Any) -> bool:
        try:
            self.page.project.set(dotted, value)
        except ConfigError as exc:
            from .. import errors
            errors.show_error(self.page.ctx.window, "Invalid setting", str(exc))
            return False
        return True

    def _show_kind(self, idx: int) -> None:
        """Show one option's fields; the hidden ones take no room (a stack is as tall as its tallest page)."""
        from PySide6.QtWidgets import QSizePolicy
        self.stack.setCurrentIndex(idx)
        for i in range(self.stack.count()):
            pol = QSizePolicy.Policy.Preferred if i == idx else QSizePolicy.Policy.Ignored
            self.stack.widget(i).setSizePolicy(pol, pol)
        self.stack.adjustSize()

    def _kind_clicked(self, idx: int) -> None:
        kind = STUDENT_KINDS[idx][0]
        self._show_kind(idx)
        if kind == "checkpoint" and not self.page.project.config.distill.student_checkpoint:
            # The config requires a checkpoint name with this choice; ask for it first.
            self.checkpoint.edit.setFocus()
            try:
                self.page.project.set("distill.student", kind)
            except ConfigError:
                self._kind_after_checkpoint = True  # set once a checkpoint name is given
            return
        self._set("distill.student", kind)

    def _checkpoint_committed(self, value: str) -> None:
        if self._set("distill.student_checkpoint", value) and value and self._kind_after_checkpoint:
            self._kind_after_checkpoint = False
            self._set("distill.student", "checkpoint")

    def _indices_edited(self, text: str) -> None:
        raw = text.strip()
        try:
            values = [int(x) for x in raw.replace(";", ",").split(",") if x.strip()]
        except ValueError:
            self._indices_error("whole numbers separated by commas, e.g. 0, 3, 5")
            return
        n = self.page.teacher_layer_count()
        bad = [v for v in values if v < 0 or (n is not None and v >= n)]
        if bad:
            self._indices_error(f"layer(s) {bad} do not exist" + (f"; the teacher has layers 0–{n - 1}" if n else ""))
            return
        if len(set(values)) != len(values):
            self._indices_error("each layer only once")
            return
        self._indices_error("")
        self._set("distill.layer_indices", sorted(values))
        if values:
            self.layers.blockSignals(True)
            self.layers.setValue(len(values))
            self.layers.blockSignals(False)
            self._set("distill.num_layers", len(values))

    def _indices_error(self, message: str) -> None:
        self.indices_error.setText(message)
        self.indices_error.setVisible(bool(message))
        self.indices.setProperty("invalid", bool(message))
        self.indices.style().unpolish(self.indices)
        self.indices.style().polish(self.indices)
        self.page.update_controls()

    @property
    def has_error(self) -> bool:
        return bool(self.indices_error.text())

    def refresh(self) -> None:
        d = self.page.project.config.distill
        idx = [k for k, _ in STUDENT_KINDS].index(d.student)
        self.radios[d.student].setChecked(True)
        self._show_kind(idx)
        for w, v in ((self.layers, d.num_layers),):
            w.blockSignals(True)
            w.setValue(v)
            w.blockSignals(False)
        self.indices.setText(", ".join(map(str, d.layer_indices)))
        self._indices_error("")
        self.checkpoint.setText(d.student_checkpoint)
        self.teacher.setText(d.teacher)
        self.fresh_form.refresh()
        self.update_teacher_info()

    def update_teacher_info(self) -> None:
        n = self.page.teacher_layer_count()
        if n:
            self.layers.setMaximum(n)
            self.teacher_info.setText(f"The teacher has {n} layers (0–{n - 1}).")
        else:
            self.layers.setMaximum(96)
            self.teacher_info.setText("")


class DistillPage(TrainingStepPage):
    key = "distill"
    title = "Distill"
    description = ("Train a small, fast student to copy the teacher's predictions (soft labels at temperature T) "
                   "plus the true labels. The baseline is the same student trained on labels alone.")
    job = "distill"
    event_jobs = ("distill", "baseline")
    start_text = "&Start distilling"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.student = StudentPicker(self)
        self.distill_form = ConfigForm(ctx.project, "distill", fields=DISTILL_FIELDS)
        self.unlabelled_info = QLabel(self.distill_form)  # which unlabelled texts (set on the Data step), under their settings
        self.unlabelled_info.setObjectName("hint")
        self.unlabelled_info.setWordWrap(True)
        self.distill_form.layout().addWidget(self.unlabelled_info)
        ctx.project.changed.connect(lambda dotted: dotted.startswith("data.unlabelled") and self.update_unlabelled_info())
        self.recipe_form = ConfigForm(ctx.project, "distill", fields=RECIPE_FIELDS, group_order=RECIPE_GROUPS)
        self.live = LiveTrainingView(("distill", "baseline"), loss_components=True)
        tab = QWidget()
        tl = QVBoxLayout(tab)
        tl.setContentsMargins(0, 0, 0, 0)
        self.comparison = read_only_table(tab, ["Model", "Accuracy (95% interval)", "Macro-F1 (95% interval)",
                                                "Δ macro-F1 vs teacher", "Agreement with teacher", "Parameters"])
        self.comparison_note = QLabel(tab)
        self.comparison_note.setWordWrap(True)
        self.comparison_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.f1_chart = BarChart("Test macro-F1 (bars: 95 % interval)", "macro-F1")
        self.shift_chart = BarChart("Teacher's labels on the unlabelled texts vs training", "share of texts")
        self.shift_chart.hide()
        charts = QHBoxLayout()
        charts.addWidget(self.f1_chart, 1)
        charts.addWidget(self.shift_chart, 1)  # beside, so the table keeps its height
        tl.addWidget(self.comparison, 1)
        tl.addWidget(self.comparison_note)
        tl.addLayout(charts, 1)
        self.live.add_tab(tab, "C&omparison")
        self.comparison_tab = tab
        self.agreement = AgreementView()  # rows: the teacher's label, columns: the student's (test split)
        self.live.add_tab(self.agreement, "A&greement")
        self.set_body([self.student, self.distill_form, self.recipe_form], [self.warnings, self.live], left_width=400)

    def forms(self) -> list[ConfigForm]:
        return [self.distill_form, self.recipe_form, self.student.fresh_form]

    def settings_widgets(self) -> list[QWidget]:
        return [*self.forms(), self.student]  # the student picker (shrink / checkpoint / fresh) too

    def form_errors(self) -> list[tuple[str, str]]:
        errs = super().form_errors()
        if self.student.has_error:
            errs.append(("distill.layer_indices", self.student.indices_error.text()))
        return errs

    def teacher_folder(self) -> Path | None:
        return self.project.state().teacher_folder() if self.project.is_open else None

    def teacher_layer_count(self) -> int | None:
        folder = self.teacher_folder()
        return api.model_layer_count(folder) if folder else None

    def prerequisites(self) -> str:
        if self.project.config.distill.teacher:
            folder = self.teacher_folder()
            if folder is None or not (folder / "config.json").is_file():
                return f"Needs a teacher: the folder {self.project.config.distill.teacher} has no model."
            return ""
        if self.project.stage_status("teacher") != "completed":
            return "Needs a trained teacher: finish the Teacher step first (or name a teacher folder below)."
        return ""

    def refresh_state(self) -> None:
        super().refresh_state()
        blocked = bool(self.needs())
        if blocked:
            # Keep the student picker usable: its Teacher field is one way to meet the need.
            self.body.setEnabled(True)
        for w in (self.distill_form, self.recipe_form, self.live):
            w.setEnabled(not blocked)

    def update_unlabelled_info(self) -> None:
        paths = self.project.config.data.unlabelled
        self.unlabelled_info.setText(
            f"Unlabelled texts: {'; '.join(paths)} (Data step). Their rows train with the soft loss only; the baseline "
            "stays on the labelled texts." if paths else
            "No unlabelled texts: add files or folders of texts without labels on the Data step (Unlabelled notes) "
            "and the teacher labels them for the student.")

    def on_project_loaded(self) -> None:
        self.update_unlabelled_info()
        self.student.refresh()
        self.distill_form.refresh()
        self.recipe_form.refresh()
        super().on_project_loaded()

    def on_run_changed(self) -> None:
        self.student.update_teacher_info()
        super().on_run_changed()

    def reset_view(self) -> None:
        super().reset_view()
        self.comparison.setRowCount(0)
        self.shift_chart.hide()
        self.agreement.set_entries([])

    def show_result(self, result: api.DistillResult) -> None:
        """The classical baseline, the teacher, the distilled student and the no-distillation baseline, test split."""
        teacher_f1 = result.teacher_metrics.get("test", {}).get("macro_f1")
        # rows named like the variants everywhere else (Benchmark, Predict); roles key the result's parts
        rows = [("classical", result.classical_metrics.get("test"), None, None),
                ("teacher", result.teacher_metrics.get("test"), result.parameters.get("teacher"), None)]
        for role, part in (("student", result.student), ("baseline", result.baseline)):
            if part is not None:  # the baseline has the student's architecture, hence its size
                rows.append((role, part.metrics.get("test"), result.parameters.get("student"),
                             result.agreement.get(role, {}).get("test")))
        rows = [r for r in rows if r[1]]
        self.comparison.setRowCount(len(rows))
        u = result.unlabelled
        shown = {role: api.variant_name(role) for role, *_ in rows}
        if u is not None and "student" in shown:
            shown["student"] += f" (+{u.confident} unlabelled texts)"
        for i, (role, m, params, agree) in enumerate(rows):
            f1 = m.get("macro_f1")
            delta = f1 - teacher_f1 if isinstance(f1, (int, float)) and isinstance(teacher_f1, (int, float)) else None
            self.comparison.setItem(i, 0, text_item(shown.get(role, role)))
            self.comparison.setItem(i, 1, score_item(m.get("accuracy"), m.get("accuracy_ci")))
            self.comparison.setItem(i, 2, score_item(f1, m.get("macro_f1_ci")))
            self.comparison.setItem(i, 3, number_item(delta, "+.4f") if role != "teacher" else text_item("–"))
            self.comparison.setItem(i, 4, number_item(agree, ".2%") if agree is not None else text_item("–"))
            self.comparison.setItem(i, 5, number_item(params, ",d") if isinstance(params, int) else text_item("-"))
        notes = [f"{name}, test macro-F1 (paired bootstrap): {api.format_difference(d)}"
                 for name, d in result.differences.items()]
        if result.seeds is not None:
            notes.append(f"Over {len(result.seeds.seeds)} seeds, test macro-F1: student {result.seeds.text('student')}"
                         + (f", baseline {result.seeds.text('baseline')}" if result.seeds.baseline else ""))
        if u is not None:
            notes.append(u.summary_text() + "; the baseline trained on the labelled texts only.")
            names = list(u.train_distribution)
            self.shift_chart.set_data(names, {"teacher, unlabelled": [u.teacher_distribution.get(n, 0.0) for n in names],
                                              "training labels": [u.train_distribution[n] for n in names]})
        self.shift_chart.setVisible(u is not None)
        self.comparison_note.setText("<br>".join(notes))
        self.f1_chart.set_data([api.variant_name(r[0]) for r in rows], {"macro-F1": [r[1].get("macro_f1") for r in rows]},
                               intervals={"macro-F1": [r[1].get("macro_f1_ci") for r in rows]})
        self.warnings.show_warnings(result.warnings())
        names = [c["label"] for c in (result.teacher_metrics.get("test", {}).get("per_class") or [])]
        self.agreement.set_entries([Agreement(api.variant_name(role), "teacher", names, result.agreement_matrix[role]["test"],
                                              result.changed.get(role, []))
                                    for role in ("student", "baseline") if result.agreement_matrix.get(role, {}).get("test")])
        if result.student is not None:
            self.live.metrics.show_metrics(result.student.metrics.get("test"), title="Student, test split",
                                           baseline=result.classical_metrics.get("test"))
        self.live.status.setText("Completed")
        if rows:
            self.live.tabs.setCurrentWidget(self.comparison_tab)
