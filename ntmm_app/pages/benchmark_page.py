"""Benchmark step: every model of the project measured side by side."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QGroupBox, QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from ntmm_engine import api
from ntmm_engine.core.errors import ConfigError
from ntmm_engine.core.events import BenchmarkRow

from .. import errors
from ..widgets.calibration_view import CalibrationPanel
from ..widgets.config_form import ConfigForm
from ..widgets.results_view import ResultsView, VariantProgress, benchmark_row
from .base import AppContext, JobStepPage


class BenchmarkPage(JobStepPage):
    key = "benchmark"
    title = "Benchmark"
    description = ("Measure accuracy, agreement with the teacher, latency at batch 1, throughput and size of every model, "
                   "on the same test texts and the same machine.")
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
        self.results = ResultsView(lambda: self.project.state().layout.stage_dir("benchmark") if self.project.is_open else None,
                                   lambda: self.project.state().layout.benchmark_md if self.project.is_open else None)
        self.calibration = CalibrationPanel()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.results, "&Results")
        self.tabs.addTab(self.calibration, "Ca&libration")
        self.set_body([box, self.form, runs_row], [self.progress, self.tabs])

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
        flagged = self.project.state().flagged()
        rows = [benchmark_row(r, flagged=r.variant in flagged) for r in result.rows]
        self.results.show_rows(rows, note="" if rows else "The benchmark reported no rows.")
        self.calibration.set_models({r.variant: r.calibration for r in result.rows if r.status == "ok"},
                                    note="On the test split, with each model's stored temperature (fitted on validation "
                                         "when it was trained or built): what predictions return.")
        self.calibration.select(next((n for n in api.PREFERRED if result.row(n) is not None), ""))  # the Predict step's pick

    # ------------------------------------------------------------ job hooks
    def on_job_started(self, resume: bool) -> None:
        self._live_rows: dict[str, api.VariantBenchmark] = {}
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
