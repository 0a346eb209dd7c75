"""Optimize step: INT8 and ONNX variants of the student, each checked against it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QCheckBox, QGroupBox, QLabel, QVBoxLayout, QWidget

from ntmm_engine.config import OPTIMIZE_VARIANTS
from ntmm_engine.errors import ConfigError

from .. import errors, runinfo
from ..widgets.config_form import ConfigForm
from ..widgets.results_view import ResultsView, VariantProgress
from .base import AppContext, JobStepPage

VARIANT_TEXT = {"torch_int8": "PyTorch dynamic INT8 (&1)", "onnx": "ONNX fp32 (&2)", "onnx_int8": "ONNX INT8 (&3)"}
VARIANT_HELP = {"torch_int8": "Linear layers quantized to INT8 at run time; runs with PyTorch.",
                "onnx": "The student exported to ONNX; runs with ONNX Runtime, no PyTorch needed.",
                "onnx_int8": "The ONNX model with INT8 weights: usually the smallest and fastest on CPU."}


class OptimizePage(JobStepPage):
    key = "optimize"
    title = "Optimize"
    description = ("Build faster and smaller variants of the student. Each is checked against the fp32 student; "
                   "variants whose predictions agree less than the threshold are flagged.")
    job = "optimize"
    start_text = "Build &variants"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        box = QGroupBox("Variants")
        bl = QVBoxLayout(box)
        self.checks: dict[str, QCheckBox] = {}
        for v in OPTIMIZE_VARIANTS:
            cb = QCheckBox(VARIANT_TEXT.get(v, v))
            cb.setToolTip(VARIANT_HELP.get(v, ""))
            cb.toggled.connect(self._variants_changed)
            bl.addWidget(cb)
            self.checks[v] = cb
        self.variants_error = QLabel("Choose at least one variant.")
        self.variants_error.setObjectName("fieldError")
        self.variants_error.hide()
        bl.addWidget(self.variants_error)
        self.form = ConfigForm(ctx.project, "optimize", exclude=("variants",), default_group="Settings")
        self.progress = VariantProgress()
        self.results = ResultsView(lambda: self.project.run_path / "optimize" if self.project.is_open else None,
                                   lambda: self.report_path(), title="NTMM optimize: variants vs the fp32 student")
        self.set_body([box, self.form], [self.progress, self.results])

    def report_path(self) -> Path | None:
        if not self.project.is_open:
            return None
        folder = self.project.run_path / "optimize"
        for name in ("optimize.md", "report.md", "parity.md"):
            if (folder / name).is_file():
                return folder / name
        return None

    def forms(self) -> list[ConfigForm]:
        return [self.form]

    def form_errors(self) -> list[tuple[str, str]]:
        errs = super().form_errors()
        if not self.project.config.optimize.variants:
            errs.append(("optimize.variants", "choose at least one variant"))
        return errs

    def prerequisites(self) -> str:
        model = self.project.config.optimize.model
        if model:
            p = self.project.config.resolve(model)
            return "" if p.exists() else f"Needs a model: {model} does not exist."
        if self.project.stage_status("distill") != "completed":
            return "Needs a distilled student: finish the Distill step first (or name a model folder below)."
        return ""

    def refresh_state(self) -> None:
        super().refresh_state()
        if self.needs() and not self.needs().startswith("This installation"):
            self.body.setEnabled(True)  # the model field below can meet the need
            self.controls.setEnabled(True)

    def _variants_changed(self) -> None:
        chosen = [v for v, cb in self.checks.items() if cb.isChecked()]
        self.variants_error.setVisible(not chosen)
        try:
            self.project.set("optimize.variants", chosen)
        except ConfigError as exc:
            errors.show_error(self.ctx.window, "Invalid variants", str(exc))
        self.update_controls()

    def on_project_loaded(self) -> None:
        chosen = self.project.config.optimize.variants
        for v, cb in self.checks.items():
            cb.blockSignals(True)
            cb.setChecked(v in chosen)
            cb.blockSignals(False)
        self.variants_error.setVisible(not chosen)
        self.form.refresh()
        self.progress.set_variants([])
        self.show_run_folder()

    def on_run_changed(self) -> None:
        # Results just shown from a finished job stay unless the run folder has some.
        if not self.running and runinfo.stage_result(self.project.run_path, "optimize"):
            self.show_run_folder()

    def show_run_folder(self) -> None:
        result = runinfo.stage_result(self.project.run_path, "optimize")
        if result and self.stage_status() == "completed":
            self.show_result(result)
        else:
            self.results.show_rows([])

    def show_result(self, data: dict[str, Any]) -> None:
        rows = runinfo.variant_rows(data.get("variants"))
        flagged = set(data.get("flagged") or [])
        for r in rows:
            if r.get("variant") in flagged:
                r["flagged"] = True
        ref = data.get("reference")
        if isinstance(ref, dict) and ref:  # the fp32 student every variant is compared with
            rows.insert(0, {**ref, "variant": "student (fp32 reference)", "agreement": 1.0})
        note = "" if rows else "The optimize step finished but reported no variants."
        if flagged:
            note = (f"Flagged: {', '.join(sorted(flagged))} – their predictions agree with the fp32 student on less than "
                    f"{data.get('agreement_threshold', self.project.config.optimize.agreement_threshold):.0%} of the test texts.")
        self.results.show_rows(rows, note=note)

    # ---------------------------------------------------------- job hooks
    def on_job_started(self, resume: bool) -> None:
        self.progress.set_variants(list(self.project.config.optimize.variants))
        self.results.show_rows([], note="Building…")

    def on_job_event(self, ev: Any) -> None:
        self.progress.handle_event(ev)

    def on_job_finished(self, result: Any) -> None:
        data = result.to_dict() if hasattr(result, "to_dict") else result
        if isinstance(data, dict):
            self.show_result(data)

    def on_job_cancelled(self, result: Any) -> None:
        self.results.show_rows([], note="Cancelled.")

    def on_job_failed(self, message: str) -> None:
        self.results.show_rows([], note="Failed: " + message.splitlines()[0])
