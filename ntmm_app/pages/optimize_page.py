"""Optimize step: INT8 and ONNX variants of the student, each checked against it."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QGroupBox, QLabel, QTabWidget, QVBoxLayout, QWidget

from ntmm_engine import api
from ntmm_engine.core.config import OPTIMIZE_VARIANTS
from ntmm_engine.core.errors import ConfigError

from .. import errors
from ..widgets.agreement_view import Agreement, AgreementView
from ..widgets.calibration_view import CalibrationPanel
from ..widgets.config_form import ConfigForm
from ..widgets.results_view import ResultsView, VariantProgress, parity_row
from .base import AppContext, JobStepPage

VARIANT_TEXT = {"torch_int8": "PyTorch dynamic INT8 (&1)", "onnx": "ONNX fp32 (&2)", "onnx_int8": "ONNX INT8, fused graph (&3)",
                "onnx_int8_unfused": "ONNX INT8, plain graph, to compare (&4)",
                "onnx_int8_pruned": "ONNX INT8, vocabulary pruned (&5)", "static": "Static-embedding student (&6)"}
VARIANT_HELP = {"torch_int8": "Linear layers quantized to INT8 at run time; runs with PyTorch.",
                "onnx": "The student exported to ONNX; runs with ONNX Runtime, no PyTorch needed.",
                "onnx_int8": "ONNX Runtime's transformer fusions (attention, SkipLayerNorm, bias-GELU), then INT8 weights: "
                             "usually the smallest and fastest transformer on CPU (optimize.fuse).",
                "onnx_int8_unfused": "The same INT8 quantization of the plain graph, to see what fusion buys.",
                "onnx_int8_pruned": "INT8 after keeping only the word pieces the training texts use (every training text "
                                    "tokenizes as before): a much smaller file.",
                "static": "One vector per word piece, distilled from the teacher, averaged, with a small head trained on the "
                          "teacher's logits: hundreds of times faster, less accurate."}


def optimize_agreements(result: api.OptimizeResult) -> list[Agreement]:
    """Each variant against the teacher's labels (when known) and against the fp32 student's."""
    ref = result.reference
    names = [c["label"] for c in (ref.metrics.get("per_class") or [])] if ref is not None else []
    out: list[Agreement] = []
    parts = [(api.REFERENCE, ref)] if ref is not None else []
    parts += [(api.variant_name(n), v) for n, v in result.variants.items() if v.status in ("ok", "flagged")]
    for name, v in parts:  # what the whole compression moved: rows are the teacher's labels
        if v.teacher_agreement_matrix:
            out.append(Agreement(name, "teacher", names, v.teacher_agreement_matrix, v.teacher_changed,
                                 reference_key="teacher_label", model_key="variant_label"))
    for name, v in parts[1:]:  # what this step moved: rows are the fp32 student's labels
        out.append(Agreement(name, "fp32 student", names, v.agreement_matrix, v.changed, reference_key="fp32_label",
                             model_key="variant_label", total_changed=v.changed_count))
    return out


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
        self.results = ResultsView(lambda: self.project.state().layout.stage_dir("optimize") if self.project.is_open else None,
                                   lambda: None, title="NTMM optimize: variants vs the fp32 student")
        self.calibration = CalibrationPanel()
        self.agreement = AgreementView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.results, "&Variants")
        self.tabs.addTab(self.calibration, "Ca&libration")
        self.tabs.addTab(self.agreement, "A&greement")
        self.set_body([box, self.form], [self.progress, self.tabs])

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
        if not self.running and self.project.state().result("optimize") is not None:
            self.show_run_folder()

    def show_run_folder(self) -> None:
        result = self.project.state().result("optimize")
        if result is not None:
            self.show_result(result)
        else:
            self.results.show_rows([])
            self.calibration.set_models({})
            self.agreement.set_entries([])

    def show_result(self, result: api.OptimizeResult) -> None:
        # named as on the Benchmark and Predict steps (student_onnx_int8, not onnx_int8)
        rows = [parity_row(v, name=api.variant_name(v.variant)) for v in result.variants.values()]
        if result.reference is not None:  # the fp32 student every variant is compared with
            rows.insert(0, parity_row(result.reference, name=f"{api.REFERENCE} (reference)"))
        if result.classical is not None:  # what a ten-line model reaches on the same texts
            rows.append(parity_row(result.classical, name=api.CLASSICAL))
        note = "" if result.variants else "The optimize step finished but reported no variants."
        if result.flagged:
            note = (f"Flagged: {', '.join(sorted(result.flagged))} – their predictions agree with the fp32 student on less "
                    f"than {result.agreement_threshold:.0%} of the test texts.")
        self.results.show_rows(rows, note=note)
        done = {n: v for n, v in result.variants.items() if v.status in ("ok", "flagged")}
        models = {api.REFERENCE: result.reference.calibration if result.reference else None,
                  **{api.variant_name(n): v.calibration for n, v in done.items()},
                  api.CLASSICAL: result.classical.calibration if result.classical else None}
        self.calibration.set_models(models, note="Each variant has its own temperature, fitted on its own validation "
                                                 "outputs; predictions and batch outputs use it.")
        self.calibration.select(next((api.variant_name(n) for n in ("onnx_int8", "onnx", "torch_int8") if n in done), ""))
        self.agreement.set_entries(optimize_agreements(result),
                                   note="" if result.reference is None or result.reference.teacher_agreement_matrix else
                                   "(The teacher's labels are known once the Distill step has run with this version.)")

    # ---------------------------------------------------------- job hooks
    def on_job_started(self, resume: bool) -> None:
        self.progress.set_variants(list(self.project.config.optimize.variants), shown=api.variant_name)
        self.results.show_rows([], note="Building…")
        self.tabs.setCurrentWidget(self.results)

    def on_job_event(self, ev: Any) -> None:
        self.progress.handle_event(ev)

    def on_job_finished(self, result: api.OptimizeResult) -> None:
        self.show_result(result)

    def on_job_cancelled(self, result: Any) -> None:
        self.results.show_rows([], note="Cancelled.")
        self.tabs.setCurrentWidget(self.results)

    def on_job_failed(self, message: str) -> None:
        self.results.show_rows([], note="Failed: " + message.splitlines()[0])
