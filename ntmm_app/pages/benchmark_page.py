"""Benchmark step: every model of the project measured side by side, the frontier, and the variant the budget picks."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QGroupBox, QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from ntmm_engine import api
from ntmm_engine.core.errors import ConfigError
from ntmm_engine.core.events import BenchmarkRow

from .. import errors
from ..widgets.banner import WarningBanner
from ..widgets.calibration_view import CalibrationPanel
from ..widgets.config_form import ConfigForm
from ..widgets.results_view import ResultsView, VariantProgress, benchmark_row
from .base import AppContext, JobStepPage


class BenchmarkPage(JobStepPage):
    key = "benchmark"
    title = "Benchmark"
    description = ("Measure accuracy, agreement, latency at batch 1 (in interleaved rounds), throughput, memory and size of every "
                   "model, on the same test texts and the same machine; the budget picks the variant to use.")
    job = "benchmark"
    start_text = "&Start benchmark"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        box = QGroupBox("Models to measure")
        self.box_layout = QVBoxLayout(box)
        self.all_check = QCheckBox("All &models in the run folder")
        self.all_check.toggled.connect(self._variants_changed)
        self.box_layout.addWidget(self.all_check)
        self.checks: dict[str, QCheckBox] = {}
        self.found_note = QLabel()
        self.found_note.setObjectName("hint")
        self.found_note.setWordWrap(True)
        self.box_layout.addWidget(self.found_note)
        self.form = ConfigForm(ctx.project, "benchmark", exclude=("variants",), default_group="Settings")
        self.runs_button = QPushButton("Compare r&uns…")
        self.runs_button.setToolTip("This project's run folders and others side by side: test macro-F1 of teacher, "
                                    "student and baseline, the fastest model (File → Compare runs, Ctrl+Shift+U)")
        self.runs_button.clicked.connect(lambda: ctx.window.show_runs())
        runs_row = QWidget()
        rr = QHBoxLayout(runs_row)
        rr.setContentsMargins(0, 0, 0, 0)
        rr.addWidget(self.runs_button)
        rr.addStretch(1)
        self.progress = VariantProgress()
        self.unreliable = WarningBanner(self)
        self.recommend_row = QWidget()
        rec = QHBoxLayout(self.recommend_row)
        rec.setContentsMargins(0, 0, 0, 0)
        self.recommend_label = QLabel()
        self.recommend_label.setObjectName("recommendation")
        self.recommend_label.setWordWrap(True)
        self.recommend_label.setTextInteractionFlags(self.recommend_label.textInteractionFlags() | Qt.TextInteractionFlag.TextSelectableByMouse)
        self.use_button = QPushButton("Use in &Predict")
        self.use_button.setToolTip("Open the recommended variant on the Predict step")
        self.use_button.clicked.connect(lambda: self.use_recommended(export=False))
        self.bundle_button = QPushButton("Export &bundle…")
        self.bundle_button.setToolTip("Write the deployable bundle of the recommended variant (as ntmm export)")
        self.bundle_button.clicked.connect(lambda: self.use_recommended(export=True))
        rec.addWidget(self.recommend_label, 1)
        rec.addWidget(self.use_button)
        rec.addWidget(self.bundle_button)
        self.recommend_row.hide()
        self.recommended: tuple[str, str] | None = None  # (variant, model folder)
        self.results = ResultsView(lambda: self.project.state().layout.stage_dir("benchmark") if self.project.is_open else None,
                                   lambda: self.project.state().layout.benchmark_md if self.project.is_open else None, frontier=True)
        self.form.edited.connect(self._setting_edited)
        self.calibration = CalibrationPanel()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.results, "&Results")
        self.tabs.addTab(self.calibration, "Ca&libration")
        self.set_body([box, self.form, runs_row], [self.progress, self.unreliable, self.recommend_row, self.tabs])

    def forms(self) -> list[ConfigForm]:
        return [self.form]

    def prerequisites(self) -> str:
        if not self.project.state().models():
            return "Needs at least one trained model: finish the Teacher step (and ideally Distill and Optimize) first."
        return ""

    def form_errors(self) -> list[tuple[str, str]]:
        errs = super().form_errors()
        if not self.all_check.isChecked() and not self.project.config.benchmark.variants:
            errs.append(("benchmark.variants", "choose at least one model"))
        return errs

    # ------------------------------------------------------------- variants
    def _rebuild_checks(self) -> None:
        found = self.project.state().models() if self.project.is_open else {}
        chosen = self.project.config.benchmark.variants
        names = [n for n in api.VARIANTS if n in found] + [n for n in found if n not in api.VARIANTS]
        names += [n for n in chosen if n not in names]
        for cb in self.checks.values():
            self.box_layout.removeWidget(cb)
            cb.deleteLater()
        self.checks = {}
        for i, n in enumerate(names):
            cb = QCheckBox(n + ("" if n in found else " (not built yet)"))
            cb.setChecked(n in chosen)
            cb.setEnabled(bool(chosen))
            cb.toggled.connect(self._variants_changed)
            self.box_layout.insertWidget(1 + i, cb)
            self.checks[n] = cb
        self.all_check.blockSignals(True)
        self.all_check.setChecked(not chosen)
        self.all_check.blockSignals(False)
        self.found_note.setText("" if found else "No models in the run folder yet.")

    def _variants_changed(self) -> None:
        use_all = self.all_check.isChecked()
        for cb in self.checks.values():
            cb.setEnabled(not use_all)
        chosen = [] if use_all else [n for n, cb in self.checks.items() if cb.isChecked()]
        try:
            self.project.set("benchmark.variants", chosen)
        except ConfigError as exc:
            errors.show_error(self.ctx.window, "Invalid models", str(exc))
        self.update_controls()

    def selected_variants(self) -> list[str]:
        chosen = self.project.config.benchmark.variants
        return list(chosen) if chosen else list(self.project.state().models())

    # ---------------------------------------------------------------- state
    def on_project_loaded(self) -> None:
        self._rebuild_checks()
        self.form.refresh()
        self.progress.set_variants([])
        self.show_run_folder()

    def on_run_changed(self) -> None:
        if not self.running:
            self._rebuild_checks()
            if self.project.state().result("benchmark") is not None:
                self.show_run_folder()

    def show_run_folder(self) -> None:
        result = self.project.state().result("benchmark")
        if result is not None:
            self.show_result(result)
        else:
            self.results.show_rows([])
            self.calibration.set_models({})

    def show_result(self, result: api.BenchmarkResult) -> None:
        state = self.project.state()
        flagged = state.flagged()
        # the project's current budget (it changes no measurement, so the finished benchmark is re-read)
        rec = api.recommend(result.rows, api.Budget.from_config(self.project.config.benchmark), unreliable=result.unreliable_reason)
        rows = [benchmark_row(r, flagged=r.variant in flagged, recommended=r.variant == rec.variant) for r in result.rows]
        note = "" if rows else "The benchmark reported no rows."
        if rows and not result.reliable:
            note = "⚠ Timings unreliable (see above): the latencies and speed-ups below are not fit to publish."
        self.results.show_rows(rows, note=note, unreliable=not result.reliable)
        cpu_note = result.cpu.get("warning") if result.cpu else ""
        self.unreliable.show_warnings(([result.unreliable_reason[:1].upper() + result.unreliable_reason[1:] + "."]
                                       if not result.reliable else []) + ([f"CPU: {cpu_note}."] if cpu_note else []))
        self.calibration.set_models({r.variant: r.calibration for r in result.rows if r.status == "ok"},
                                    note="On the test split, with each model's stored temperature (fitted on validation "
                                         "when it was trained or built): what predictions return.")
        pick = rec.variant if rec.variant and result.row(rec.variant) is not None else \
            next((n for n in api.PREFERRED if result.row(n) is not None), "")
        self.calibration.select(pick)  # the model the Predict step opens
        self.show_recommendation(rec, state.models())

    def show_recommendation(self, rec: api.Recommendation, models: dict) -> None:
        self.recommend_row.show()
        self.progress.general.hide()  # the job's "Recommended: …" line: said here, and stale after a budget edit
        if rec.variant:
            head = f"<b>★ Recommended: {rec.variant}</b>" if rec.within_budget else f"<b>Nothing fits the budget; fastest: {rec.variant}</b>"
            text = f"{head}<br>{rec.reason}"
        else:
            text = f"<b>{rec.reason}</b>"
        self.recommend_label.setText(f"{text}<br><span style='color:#666'>Budget: {rec.budget.text()} "
                                     "(the Budget settings on the left; changing them needs no new measurement)</span>")
        path = models.get(rec.variant)
        self.recommended = (rec.variant, str(path)) if path is not None else None
        self.use_button.setEnabled(self.recommended is not None)
        self.bundle_button.setEnabled(self.recommended is not None and rec.variant != api.CLASSICAL)

    def _setting_edited(self, dotted: str) -> None:
        """A budget edit re-picks the variant from the finished benchmark at once."""
        if dotted.startswith("benchmark.budget_") and not self.running and self.project.is_open:
            self.show_run_folder()

    def use_recommended(self, export: bool = False) -> None:
        """Open the recommended variant on the Predict step (and, with ``export``, write its bundle)."""
        if self.recommended is None:
            return
        window = self.ctx.window
        predict = window.page("predict")
        window.go_to(window.pages.index(predict))
        predict.use_model(self.recommended[1])
        if export:
            predict.export_bundle()

    # ------------------------------------------------------------ job hooks
    def on_job_started(self, resume: bool) -> None:
        self._live_rows: dict[str, api.VariantBenchmark] = {}
        self.unreliable.show_warnings([])
        self.recommend_row.hide()
        self.progress.set_variants(self.selected_variants())
        self.results.show_rows([], note="Measuring… (keep other programs idle for steady timings)")

    def on_job_event(self, ev: Any) -> None:
        self.progress.handle_event(ev)
        if isinstance(ev, BenchmarkRow):  # show each variant as soon as it is measured
            row = api.VariantBenchmark.from_dict(ev.row)
            self._live_rows[row.variant] = row
            self.results.show_rows([benchmark_row(r) for r in self._live_rows.values()], note="Measuring…")

    def on_job_finished(self, result: api.BenchmarkResult) -> None:
        self.show_result(result)

    def on_job_cancelled(self, result: Any) -> None:
        self.results.show_rows([], note="Cancelled.")

    def on_job_failed(self, message: str) -> None:
        self.results.show_rows([], note="Failed: " + message.splitlines()[0])
