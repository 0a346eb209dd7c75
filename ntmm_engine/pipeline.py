"""The whole chain in one resumable object: teacher -> distill -> optimize -> benchmark.

A stage is skipped when the manifest says it completed with the same
fingerprint (:mod:`~ntmm_engine.core.fingerprints`). A cancelled or crashed
training stage resumes from its newest complete checkpoint. ``force`` redoes
one stage and everything after it. The data are checked before the first
stage that runs. The CLI's ``ntmm pipeline`` runs this object; the GUI's
"Run all remaining" runs the same plan, the data check first, one job at a
time so each step's page shows its own job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .benchmark.job import run_benchmark
from .classical.job import run_classical
from .core.config import ProjectConfig
from .core.errors import NTMMError
from .core.events import CancelToken, EventCallback, LogMessage, ignore_event
from .core.fingerprints import UPSTREAM, stage_fingerprints
from .core.layout import RESUMABLE, STAGES
from .core.results import Record
from .core.runfolder import RunFolder
from .data.check import check_data
from .distill.job import run_distill
from .export.optimize import run_optimize
from .runs import INTERRUPTED, can_resume
from .train.teacher import run_teacher

# The job of each stage: every caller (pipeline, CLI, app) starts stages from here.
STAGE_JOBS: dict[str, Callable[..., Any]] = {"classical": run_classical, "teacher": run_teacher, "distill": run_distill,
                                             "optimize": run_optimize, "benchmark": run_benchmark}


@dataclass
class PipelineResult(Record):
    stages: dict[str, str] = field(default_factory=dict)  # stage -> completed | skipped | cancelled
    results: dict[str, Any] = field(default_factory=dict)  # stage -> its result's to_dict()
    wall_seconds: float = 0.0
    status: str = "completed"

    def summary_text(self) -> str:
        lines = [f"{s:>10}: {st}" for s, st in self.stages.items()]
        return "\n".join(lines + [f"Pipeline {self.status} in {self.wall_seconds:.0f} s"])


class Pipeline:
    """Runs the remaining stages of a project in order."""

    def __init__(self, config: ProjectConfig, on_event: EventCallback | None = None, cancel: CancelToken | None = None):
        self.config = config
        self.on_event = on_event or ignore_event
        self.cancel = cancel or CancelToken()
        self.run_folder = RunFolder(config.run_path)

    def plan(self, force: str | None = None, stages: tuple[str, ...] = STAGES) -> dict[str, str]:
        """What each stage would do now: run | resume | skip. Raises NTMMError when it cannot tell.

        A stage runs again when its own inputs changed or the stage it builds on runs again
        (:data:`~ntmm_engine.core.fingerprints.UPSTREAM`); ``force`` redoes a stage and those built on it.
        """
        if force is not None and force not in STAGES:
            raise NTMMError(f"--force {force}: unknown stage; choose one of {', '.join(STAGES)}")
        fps = stage_fingerprints(self.config)
        plan: dict[str, str] = {}
        redone: set[str] = set()
        for stage in STAGES:
            entry = self.run_folder.stage_entry(stage)
            status = self.run_folder.stage_status(stage)
            redo = force == stage or UPSTREAM[stage] in redone
            if not redo and status == "completed" and entry.get("fingerprint") == fps[stage]:
                action = "skip"
            elif (not redo and entry.get("fingerprint") == fps[stage] and status in INTERRUPTED
                  and can_resume(self.run_folder, stage)):  # a rebuilt upstream stage means a fresh start
                action = "resume"
            else:
                action = "run"
            if action != "skip":
                redone.add(stage)
            if stage in stages:
                plan[stage] = action
        return plan

    def replaced_by(self, plan: dict[str, str]) -> list[str]:
        """Stages with completed results that running ``plan`` would replace (ask the user first)."""
        return [s for s, action in plan.items() if action == "run" and self.run_folder.stage_status(s) == "completed"]

    def run(self, force: str | None = None, stages: tuple[str, ...] = STAGES) -> PipelineResult:
        t0 = time.monotonic()
        plan = self.plan(force, stages)
        result = PipelineResult()
        if any(action != "skip" for action in plan.values()):
            # A stage that cannot read its data fails after its start; checking first says why, and starts nothing.
            check_data(self.config, self.on_event, self.cancel)
        for stage, action in plan.items():
            if action == "skip":
                self.on_event(LogMessage("pipeline", text=f"{stage}: up to date, skipped"))
                result.stages[stage] = "skipped"
                continue
            self.on_event(LogMessage("pipeline", text=f"{stage}: {'resuming' if action == 'resume' else 'running'}"))
            kwargs = {"resume": action == "resume"} if stage in RESUMABLE else {}
            out = STAGE_JOBS[stage](self.config, self.on_event, self.cancel, **kwargs)
            result.results[stage] = out.to_dict()
            result.stages[stage] = out.status
            if out.status != "completed":
                result.status = out.status
                break
        result.wall_seconds = time.monotonic() - t0
        return result
