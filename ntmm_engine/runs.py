"""What a project's run folder holds: each stage's state and typed result, its models, what can resume.

Read-only questions the app and the CLI ask (through :mod:`ntmm_engine.api`);
the answers come from the same registry (:mod:`~ntmm_engine.core.layout`)
and manifest (:class:`~ntmm_engine.core.runfolder.RunFolder`) the jobs write.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .benchmark.budget import Budget, Recommendation, recommend
from .benchmark.report import BenchmarkResult
from .classical.job import ClassicalResult
from .core.config import ProjectConfig
from .core.layout import PREFERRED, RESUMABLE, STAGES
from .core.results import Record
from .core.runfolder import RunFolder, newest_complete_checkpoint, read_history
from .distill.job import DistillResult
from .export.optimize import OptimizeResult
from .reports.calibration import Calibration
from .reports.intervals import format_score
from .train.recipe import TrainResult

RESULT_TYPES: dict[str, type[Record]] = {"classical": ClassicalResult, "teacher": TrainResult, "distill": DistillResult, "optimize": OptimizeResult,
                                         "benchmark": BenchmarkResult}
# States a stage can be resumed from (the job stopped while replacing its outputs)
INTERRUPTED = ("cancelled", "running", "failed", "incomplete")


def can_resume(run_folder: RunFolder, stage: str) -> bool:
    """True when ``stage``'s job can continue where it stopped (a complete checkpoint, or the distilled
    student finished and only the baseline left); torn checkpoints do not count."""
    if stage not in RESUMABLE:
        return False
    lay = run_folder.layout
    if stage == "distill" and lay.student_phase_file.is_file():
        return True
    return newest_complete_checkpoint(lay.checkpoints(stage)) is not None


class RunState:
    """One look at a project's run folder (cheap: it reads small JSON files only)."""

    def __init__(self, config: ProjectConfig):
        self.config = config
        self.folder = RunFolder(config.run_path)
        self.layout = self.folder.layout

    def status(self, stage: str) -> str:
        """completed | running (interrupted) | cancelled | failed | incomplete | missing."""
        return self.folder.stage_status(stage)

    def attempt(self, stage: str) -> dict[str, Any]:
        """The newest start of the stage's job: status, started, finished, error (may differ from ``status``)."""
        return self.folder.attempt(stage)

    def resumable(self, stage: str) -> bool:
        """The stage stopped while replacing its outputs and its job can continue from a checkpoint."""
        return self.status(stage) in INTERRUPTED and can_resume(self.folder, stage)

    def result(self, stage: str) -> Record | None:
        """The stage's typed result, or None unless the stage is completed."""
        if stage not in RESULT_TYPES or self.status(stage) != "completed":
            return None
        try:
            data = json.loads(self.layout.result_file(stage).read_text(encoding="utf-8"))
            return RESULT_TYPES[stage].from_dict(data)
        except (OSError, ValueError, TypeError):
            return None

    def history(self, stage: str) -> list[dict[str, Any]]:
        """The stage's events (history.jsonl) as dicts; [] when there is none."""
        path = self.layout.history_file(stage)
        return read_history(path) if path.is_file() else []

    def models(self) -> dict[str, Path]:
        """Variant name -> model folder, for the models present."""
        return self.layout.models()

    def flagged(self) -> set[str]:
        """Variants (registry names) that optimize flagged for low agreement with the fp32 student."""
        result = self.result("optimize")
        if not isinstance(result, OptimizeResult):
            return set()
        return {f"student_{name}" for name, v in result.variants.items() if v.flagged}

    def recommendation(self) -> Recommendation | None:
        """The benchmark's recommended variant under the project's *current* budget (``benchmark.budget_*``);
        None without a finished benchmark. The budget changes no measurement, so no re-run is needed."""
        bench = self.result("benchmark")
        if not isinstance(bench, BenchmarkResult):
            return None
        return recommend(bench.rows, Budget.from_config(self.config.benchmark), unreliable=bench.unreliable_reason)

    def default_model(self) -> tuple[str, Path] | None:
        """The benchmark's recommended variant, else the fastest variant optimize did not flag (the Predict step's first choice)."""
        found, flagged = self.models(), self.flagged()
        rec = self.recommendation()
        if rec is not None and rec.variant in found and rec.variant not in flagged:
            return rec.variant, found[rec.variant]
        for name in PREFERRED:
            if name in found and name not in flagged:
                return name, found[name]
        return next(iter(found.items()), None)

    def teacher_folder(self) -> Path:
        """The teacher distillation will use: ``distill.teacher`` or the project's own."""
        d = self.config.distill
        return self.config.resolve(d.teacher) if d.teacher else self.layout.teacher_model

    def stages(self) -> dict[str, str]:
        return {s: self.status(s) for s in STAGES}

    def comparison(self) -> list[dict[str, Any]]:
        """Every finished model of the run on the test split: name, macro-F1 with its interval, ECE after
        temperature scaling, and the benchmark's batch-1 latency where measured (the pipeline's final summary)."""
        rows: dict[str, dict[str, Any]] = {}

        def add(name: str, m: dict[str, Any] | None, calibration: Calibration | None = None) -> None:
            if m:
                cal = calibration.scores("test") if calibration is not None else None
                rows[name] = {"model": name, "macro_f1": m.get("macro_f1"), "macro_f1_ci": m.get("macro_f1_ci"),
                              "ece": cal.ece if cal is not None else None}
        classical, teacher, distill = self.result("classical"), self.result("teacher"), self.result("distill")
        if isinstance(classical, ClassicalResult):
            add("classical_tfidf", classical.metrics.get("test"), classical.calibration)
        if isinstance(teacher, TrainResult):
            add("teacher_fp32", teacher.metrics.get("test"), teacher.calibration)
        if isinstance(distill, DistillResult):
            for name, part in (("student_fp32", distill.student), ("baseline_fp32", distill.baseline)):
                if part is not None:
                    add(name, part.metrics.get("test"), part.calibration)
        optimize = self.result("optimize")
        if isinstance(optimize, OptimizeResult):
            for name, v in optimize.variants.items():
                add(f"student_{name}", v.metrics if v.status in ("ok", "flagged") else None, v.calibration)
        bench = self.result("benchmark")
        if isinstance(bench, BenchmarkResult):
            for r in bench.rows:
                if r.variant in rows:
                    rows[r.variant]["latency_ms"] = r.latency_ms_median
        return list(rows.values())

    def warnings(self) -> list[str]:
        """The 'not clearly better than the classical baseline' warnings of the finished stages."""
        out = []
        teacher, distill = self.result("teacher"), self.result("distill")
        if isinstance(teacher, TrainResult) and teacher.baseline_check and teacher.baseline_check.warning:
            out.append(teacher.baseline_check.warning)
        if isinstance(distill, DistillResult):
            out += [c.warning for name, c in distill.checks.items() if c.warning and name != "teacher"]
        return out

    def summary_text(self) -> str:
        """The final comparison table of the run (test split), with the warnings."""
        rows = self.comparison()
        if not rows:
            return ""
        lines = [f"{'model':<20} {'test macro-F1 (95% interval)':<30} {'test ECE':<10} latency, batch 1"]
        for r in rows:
            lat = f"{r['latency_ms']:.2f} ms" if r.get("latency_ms") is not None else "-"
            ece = f"{r['ece']:.3f}" if r.get("ece") is not None else "-"
            lines.append(f"{r['model']:<20} {format_score(r['macro_f1'], r['macro_f1_ci']):<30} {ece:<10} {lat}")
        lines += ["Warning: " + w for w in self.warnings()]
        rec = self.recommendation()
        if rec is not None:
            lines.append(f"Budget: {rec.budget.text()}. " + (f"Recommended: {rec.reason}" if rec.variant else rec.reason))
        return "\n".join(lines)

# ------------------------------------------------------------------ comparing runs
@dataclass
class RunSummary(Record):
    """One run folder's key figures, for the app's Runs view (runs side by side)."""

    path: str
    project: str = ""
    updated: str = ""  # newest finish time in the manifest
    stages: dict[str, str] = field(default_factory=dict)  # stage -> status
    test_macro_f1: dict[str, float] = field(default_factory=dict)  # classical | teacher | student | baseline -> test macro-F1
    test_accuracy: dict[str, float] = field(default_factory=dict)
    fastest: str = ""  # the benchmark's fastest variant at batch 1 ...
    fastest_latency_ms: float | None = None  # ... its median latency
    fastest_macro_f1: float | None = None
    fastest_size_bytes: int | None = None


def is_run_folder(path: str | Path) -> bool:
    """True for a folder that holds an NTMM manifest."""
    return (Path(path) / "manifest.json").is_file()


def find_runs(folder: str | Path, depth: int = 2) -> list[Path]:
    """Run folders at or below ``folder`` (a project folder holds ``runs/``, ``runs-lr1e-4/``...), sorted."""
    root = Path(folder)
    found = []
    for dirpath, dirnames, _files in os.walk(root):
        here = Path(dirpath)
        level = len(here.relative_to(root).parts)
        if is_run_folder(here):
            found.append(here)
            dirnames[:] = []  # a run folder's stages hold no runs
        elif level >= depth:
            dirnames[:] = []
        else:
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
    return sorted(found)


def summarize_run(path: str | Path) -> RunSummary:
    """The key figures of one run folder (reads its manifest and result.json files only)."""
    state = RunState(ProjectConfig(run_dir=str(Path(path).resolve())))
    manifest = state.folder.manifest()
    stages = manifest.get("stages", {}) if isinstance(manifest.get("stages"), dict) else {}
    s = RunSummary(path=str(Path(path).resolve()), project=str(manifest.get("project", "")), stages=state.stages())
    s.updated = max((str(v.get("finished") or "") for v in stages.values() if isinstance(v, dict)), default="")
    test = {}
    classical = state.result("classical")
    if isinstance(classical, ClassicalResult):
        test["classical"] = classical.metrics.get("test", {})
    teacher = state.result("teacher")
    if isinstance(teacher, TrainResult):
        test["teacher"] = teacher.metrics.get("test", {})
    distill = state.result("distill")
    if isinstance(distill, DistillResult):
        for name, part in (("student", distill.student), ("baseline", distill.baseline)):
            if part is not None:
                test[name] = part.metrics.get("test", {})
        test.setdefault("teacher", distill.teacher_metrics.get("test", {}))
    for name, m in test.items():
        if isinstance(m.get("macro_f1"), (int, float)):
            s.test_macro_f1[name] = float(m["macro_f1"])
        if isinstance(m.get("accuracy"), (int, float)):
            s.test_accuracy[name] = float(m["accuracy"])
    bench = state.result("benchmark")
    if isinstance(bench, BenchmarkResult):
        timed = [r for r in bench.rows if r.status == "ok" and r.latency_ms_median is not None]
        if timed:
            best = min(timed, key=lambda r: r.latency_ms_median)
            s.fastest, s.fastest_latency_ms = best.variant, best.latency_ms_median
            s.fastest_macro_f1, s.fastest_size_bytes = best.macro_f1, best.size_bytes
    return s
