"""The one registry of stages, model variants and run-folder paths.

Every job, the pipeline, the CLI and the app find a run's folders and files
here (the app and the CLI through :mod:`ntmm_engine.api`), so a path is
spelled in one place::

    <run_dir>/
      manifest.json  config.yaml
      classical/  model/ (TF-IDF + logistic regression) result.json
      teacher/    model/ checkpoints/ history.jsonl result.json
      distill/    student/ baseline/ checkpoints/ baseline_checkpoints/ cache/ history.jsonl result.json
      optimize/   student_torch_int8/ student_onnx/ student_onnx_int8/ student_onnx_int8_unfused/
                  student_onnx_int8_pruned/ student_static/ parity.json history.jsonl result.json
      benchmark/  benchmark.json benchmark.md history.jsonl result.json
      lr_find/    lr_find.json
      tensorboard/<job>/  mlruns/         with report_to: TensorBoard event files per job, the MLflow file store

Pure path arithmetic: nothing here reads a file except :meth:`RunLayout.models`
and :func:`is_model`, which look whether a model is present.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STAGES = ("classical", "teacher", "distill", "optimize", "benchmark")
RESUMABLE = ("teacher", "distill")  # training stages that keep Trainer checkpoints
# What optimize.variants may list, in build order (onnx before the INT8 graphs that may reuse it):
# onnx_int8 is the fused graph quantized (optimize.fuse), onnx_int8_unfused the plain one (to compare),
# onnx_int8_pruned the same after vocabulary pruning, static the static-embedding student.
OPTIMIZE_VARIANTS = ("torch_int8", "onnx", "onnx_int8", "onnx_int8_unfused", "onnx_int8_pruned", "static")


@dataclass(frozen=True)
class Variant:
    """One model a run can hold."""

    name: str     # as the benchmark, the Predict step and the model cards call it
    stage: str    # the stage that writes it
    folder: str   # relative to the run folder
    role: str     # classical | teacher | student | baseline | variant (an optimized student) | static
    backend: str  # classical | pytorch | torch_int8 | onnx


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("classical_tfidf", "classical", "classical/model", "classical", "classical"),
    Variant("teacher_fp32", "teacher", "teacher/model", "teacher", "pytorch"),
    Variant("student_fp32", "distill", "distill/student", "student", "pytorch"),
    Variant("baseline_fp32", "distill", "distill/baseline", "baseline", "pytorch"),
    Variant("student_torch_int8", "optimize", "optimize/student_torch_int8", "variant", "torch_int8"),
    Variant("student_onnx", "optimize", "optimize/student_onnx", "variant", "onnx"),
    Variant("student_onnx_int8", "optimize", "optimize/student_onnx_int8", "variant", "onnx"),
    Variant("student_onnx_int8_unfused", "optimize", "optimize/student_onnx_int8_unfused", "variant", "onnx"),
    Variant("student_onnx_int8_pruned", "optimize", "optimize/student_onnx_int8_pruned", "variant", "onnx"),
    Variant("student_static", "optimize", "optimize/student_static", "static", "onnx"),
)}
CLASSICAL = "classical_tfidf"
TEACHER = "teacher_fp32"
REFERENCE = "student_fp32"  # what optimize and benchmark compare every variant with
# optimize.variants names -> variant names
OPTIMIZED = {short: f"student_{short}" for short in OPTIMIZE_VARIANTS}
# Short names accepted in benchmark.variants (and by the CLI)
ALIASES = {"classical": CLASSICAL, "teacher": TEACHER, "student": REFERENCE, "baseline": "baseline_fp32", **OPTIMIZED}
# The Predict step's default: the fastest variant that optimize did not flag
# (the benchmark's recommended variant comes first when there is one: RunState.default_model)
PREFERRED = ("student_onnx_int8", "student_onnx_int8_pruned", "student_onnx_int8_unfused", "student_onnx", "student_torch_int8",
             "student_fp32", "teacher_fp32", "baseline_fp32", "student_static", "classical_tfidf")
# Variants that are models of their own, not copies of the fp32 student: optimize reports their agreement
# with it but never flags them for disagreeing.
DISTINCT = ("classical_tfidf", "teacher_fp32", "baseline_fp32", "student_static")


def variant_name(name: str) -> str:
    """The registry name for a registry name or an alias ("onnx_int8" -> "student_onnx_int8")."""
    return ALIASES.get(name, name)


def is_model(path: str | Path) -> bool:
    """True for an ``.onnx`` file or a folder holding ``config.json``, an ``.onnx`` file or a classical model."""
    p = Path(path)
    return (p.is_file() and p.suffix == ".onnx") or (p.is_dir() and any(
        (p / name).is_file() for name in ("config.json", "classical.json")) or (p.is_dir() and any(p.glob("*.onnx"))))


class RunLayout:
    """Paths inside one run folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    # -- the run
    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def config_file(self) -> Path:
        return self.root / "config.yaml"

    # -- any stage
    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    def result_file(self, stage: str) -> Path:
        return self.stage_dir(stage) / "result.json"

    def history_file(self, stage: str) -> Path:
        return self.stage_dir(stage) / "history.jsonl"

    def checkpoints(self, stage: str, part: str = "") -> Path:
        """Trainer checkpoints of a training stage; ``part="baseline"`` for the distill stage's baseline."""
        return self.stage_dir(stage) / (f"{part}_checkpoints" if part else "checkpoints")

    # -- models
    def variant_dir(self, name: str) -> Path:
        return self.root / VARIANTS[variant_name(name)].folder

    @property
    def teacher_model(self) -> Path:
        return self.variant_dir(TEACHER)

    @property
    def student_model(self) -> Path:
        return self.variant_dir(REFERENCE)

    @property
    def baseline_model(self) -> Path:
        return self.variant_dir("baseline_fp32")

    def models(self) -> dict[str, Path]:
        """The variants present in this run folder, in registry order."""
        return {n: self.root / v.folder for n, v in VARIANTS.items() if is_model(self.root / v.folder)}

    # -- stage files
    @property
    def teacher_cache_dir(self) -> Path:
        return self.stage_dir("distill") / "cache"

    @property
    def student_phase_file(self) -> Path:
        """The distilled student's finished results, kept while the baseline trains (for resuming)."""
        return self.stage_dir("distill") / "student_phase.json"

    @property
    def parity_file(self) -> Path:
        return self.stage_dir("optimize") / "parity.json"

    @property
    def benchmark_json(self) -> Path:
        return self.stage_dir("benchmark") / "benchmark.json"

    @property
    def benchmark_md(self) -> Path:
        return self.stage_dir("benchmark") / "benchmark.md"

    @property
    def lr_find_file(self) -> Path:
        return self.root / "lr_find" / "lr_find.json"

    # -- experiment tracking (report_to)
    def tensorboard_dir(self, job: str) -> Path:
        """TensorBoard event files of one training job (teacher, distill, baseline): ``--logdir <run>/tensorboard``."""
        return self.root / "tensorboard" / job

    @property
    def mlruns_dir(self) -> Path:
        """The MLflow file store of the run folder."""
        return self.root / "mlruns"

    def mlflow_run_file(self, stage: str, job: str) -> Path:
        """The MLflow run id of a training job, so that a resumed run logs into the same MLflow run."""
        return self.stage_dir(stage) / f"{job}.mlflow_run.json"
