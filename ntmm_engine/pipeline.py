"""The whole chain in one resumable object: teacher -> distill -> optimize -> benchmark.

A stage is skipped when the manifest says it completed with the same
fingerprint (its config sections, the data files' identity and the upstream
stages' fingerprints). A cancelled or crashed training stage resumes from
its newest checkpoint. ``force`` redoes one stage and everything after it.
The CLI's ``ntmm pipeline`` and the GUI's "Run all remaining steps" both
drive this object.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from .config import ProjectConfig
from .errors import NTMMError
from .events import CancelToken, EventCallback, LogMessage, ignore_event
from .runfolder import RunFolder

STAGES = ("teacher", "distill", "optimize", "benchmark")
# Config sections each stage depends on (besides data and seed).
STAGE_SECTIONS = {"teacher": ("teacher",), "distill": ("distill",), "optimize": ("optimize",), "benchmark": ("benchmark",)}
RESUMABLE = ("teacher", "distill")


@dataclass
class PipelineResult:
    stages: dict[str, str] = field(default_factory=dict)  # stage -> completed | skipped | cancelled
    results: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float = 0.0
    status: str = "completed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary_text(self) -> str:
        lines = [f"{s:>10}: {st}" for s, st in self.stages.items()]
        return "\n".join(lines + [f"Pipeline {self.status} in {self.wall_seconds:.0f} s"])


def _stage_runner(stage: str) -> Callable:
    if stage == "teacher":
        from .teacher import run_teacher
        return run_teacher
    if stage == "distill":
        from .distill import run_distill
        return run_distill
    if stage == "optimize":
        from .optimize import run_optimize
        return run_optimize
    from .benchmark import run_benchmark
    return run_benchmark


def data_identity(config: ProjectConfig) -> dict[str, Any]:
    """Cheap identity of the input files (path, size, mtime) plus the data settings."""
    out: dict[str, Any] = {"settings": asdict(config.data), "seed": config.seed}
    for key in ("train", "validation", "test", "label_names"):
        value = getattr(config.data, key)
        if not value:
            continue
        p = config.resolve(value)
        if p.is_file():
            st = p.stat()
            out[key] = [str(p), st.st_size, st.st_mtime_ns]
        elif p.is_dir():
            out[key] = [str(p)] + sorted([f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in p.rglob("*") if f.is_file())
        else:
            out[key] = value  # hub name
    return out


def stage_fingerprints(config: ProjectConfig) -> dict[str, str]:
    fps: dict[str, str] = {}
    upstream = json.dumps(data_identity(config), sort_keys=True, default=str)
    for stage in STAGES:
        parts = {s: asdict(getattr(config, s)) for s in STAGE_SECTIONS[stage]}
        blob = upstream + json.dumps(parts, sort_keys=True, default=str)
        fps[stage] = hashlib.sha256(blob.encode()).hexdigest()[:16]
        upstream = fps[stage]
    return fps


class Pipeline:
    """Runs the remaining stages of a project in order."""

    def __init__(self, config: ProjectConfig, on_event: EventCallback | None = None, cancel: CancelToken | None = None):
        self.config = config
        self.on_event = on_event or ignore_event
        self.cancel = cancel or CancelToken()
        self.run_folder = RunFolder(config.run_path)

    def plan(self, force: str | None = None, stages: tuple[str, ...] = STAGES) -> dict[str, str]:
        """What each stage would do now: run | resume | skip."""
        if force is not None and force not in STAGES:
            raise NTMMError(f"--force {force}: unknown stage; choose one of {', '.join(STAGES)}")
        fps = stage_fingerprints(self.config)
        manifest = self.run_folder.manifest().get("stages", {})
        plan: dict[str, str] = {}
        redo = False
        for stage in STAGES:
            if stage not in stages:
                continue
            if force == stage:
                redo = True
            entry = manifest.get(stage, {})
            status = self.run_folder.stage_status(stage)
            if not redo and status == "completed" and entry.get("fingerprint") == fps[stage]:
                plan[stage] = "skip"
                continue
            redo = True  # everything after a re-run stage runs again
            same_inputs = entry.get("fingerprint") == fps[stage]
            if (stage in RESUMABLE and force != stage and same_inputs and status in ("cancelled", "running", "failed", "incomplete")
                    and self._has_checkpoint(stage)):
                plan[stage] = "resume"
            else:
                plan[stage] = "run"
        return plan

    def _has_checkpoint(self, stage: str) -> bool:
        from .training import last_checkpoint
        return last_checkpoint(self.run_folder.stage_dir(stage) / "checkpoints") is not None

    def run(self, force: str | None = None, stages: tuple[str, ...] = STAGES) -> PipelineResult:
        t0 = time.monotonic()
        plan = self.plan(force, stages)
        fps = stage_fingerprints(self.config)
        result = PipelineResult()
        for stage, action in plan.items():
            if action == "skip":
                self.on_event(LogMessage("pipeline", text=f"{stage}: up to date, skipped"))
                result.stages[stage] = "skipped"
                continue
            self.on_event(LogMessage("pipeline", text=f"{stage}: {'resuming' if action == 'resume' else 'running'}"))
            # Mark the inputs first: a crash mid-stage can then be resumed with the same fingerprint.
            self.run_folder.update_stage(stage, fingerprint=fps[stage])
            runner = _stage_runner(stage)
            kwargs = {"resume": action == "resume"} if stage in RESUMABLE else {}
            out = runner(self.config, self.on_event, self.cancel, **kwargs)
            result.results[stage] = out.to_dict() if hasattr(out, "to_dict") else out
            status = getattr(out, "status", "completed")
            result.stages[stage] = status
            self.run_folder.update_stage(stage, fingerprint=fps[stage])
            if status != "completed":
                result.status = status
                break
        result.wall_seconds = time.monotonic() - t0
        return result
