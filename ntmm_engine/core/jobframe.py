"""The job frame every engine job runs in: events, history, manifest, failures.

A job builds a :class:`JobContext` and runs inside :func:`job_frame`. The
frame records the attempt in the manifest, and turns failures into a
``JobFailed`` event and the right manifest entry. What a failure does to the
stage's *status* depends on whether the job had started replacing the
stage's outputs (:meth:`JobContext.begin_replacing`): before, the previous
results stay completed (only the attempt is marked failed); after, the
stage is failed (or interrupted, after a crash) and resumable where the job
keeps checkpoints.
"""

from __future__ import annotations

import errno
import os
import time
import traceback
from contextlib import contextmanager
from typing import Any, Iterator

from .config import ProjectConfig
from .environment import environment_info
from .errors import Cancelled, NTMMError
from .events import CancelToken, Event, EventCallback, JobFailed, JobFinished, LogMessage, ignore_event
from .fingerprints import stage_fingerprints
from .layout import STAGES, RunLayout
from .runfolder import HistoryWriter, RunFolder, atomic_write_json, write_error


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def is_main_process() -> bool:
    """True unless this is a non-zero rank under torchrun/accelerate."""
    return int(os.environ.get("RANK", "0")) == 0


class JobContext:
    """Fans events out to the caller and the stage's history; tracks the manifest."""

    def __init__(self, job: str, config: ProjectConfig, on_event: EventCallback | None, cancel: CancelToken | None,
                 stage: str | None = None):
        self.job = job
        self.config = config
        self.cancel = cancel or CancelToken()
        self.run = RunFolder(config.run_path)
        self.layout = RunLayout(config.run_path)
        self.stage = stage or job
        self.stage_dir = self.layout.stage_dir(self.stage)
        self.fingerprint = stage_fingerprints(config).get(self.stage) if self.stage in STAGES else None
        self.replacing = False
        self.started = now()
        self._on_event = on_event or ignore_event
        self._history: HistoryWriter | None = None
        self.t0 = time.monotonic()

    def emit(self, event: Event) -> None:
        if self._history is not None and is_main_process():
            self._history.write(event)
        if is_main_process():
            self._on_event(event)

    def log(self, text: str, level: str = "info") -> None:
        self.emit(LogMessage(self.job, level=level, text=text))

    def begin_replacing(self, *, fresh_history: bool = True) -> None:
        """The job now starts changing its stage's outputs (deleting checkpoints, training, writing models).

        Until this call a failure leaves the previous results and their
        status as they were; from here on the manifest says the stage is
        running (a crash leaves it "interrupted", resumable with the same
        fingerprint), and the stage's history is started afresh (or
        continued, when resuming).
        """
        if self.replacing:
            return
        self.replacing = True
        if is_main_process():
            self.run.update_stage(self.stage, status="running", fingerprint=self.fingerprint, started=self.started,
                                  finished=None, error=None)
            self.config.save(self.layout.config_file)
        self.open_history(fresh=fresh_history)

    def open_history(self, fresh: bool) -> None:
        path = self.layout.history_file(self.stage)
        if fresh and path.exists() and is_main_process():
            path.unlink()
        if is_main_process():
            self._history = HistoryWriter(path)

    def close(self) -> None:
        if self._history is not None:
            self._history.close()
            self._history = None


@contextmanager
def job_frame(ctx: JobContext) -> Iterator[JobContext]:
    """Records the attempt in the manifest, and turns failures into a JobFailed event."""
    ctx.run.ensure_writable()
    if is_main_process():
        ctx.run.update_attempt(ctx.stage, status="running", started=ctx.started, finished=None, error=None,
                               fingerprint=ctx.fingerprint)
        ctx.run.set_top(project=ctx.config.name, environment=environment_info(), seed=ctx.config.seed)
    try:
        yield ctx
    except Cancelled:
        _record(ctx, "cancelled")
        ctx.emit(JobFinished(ctx.job, status="cancelled"))
        ctx.close()
        raise
    except NTMMError as exc:
        _record(ctx, "failed", str(exc))
        ctx.emit(JobFailed(ctx.job, message=str(exc)))
        ctx.close()
        raise
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            _fail(ctx, exc)
            raise
        err = write_error(exc.filename or ctx.stage_dir, exc)  # a full disk is the user's to fix, not a bug
        _record(ctx, "failed", str(err))
        ctx.emit(JobFailed(ctx.job, message=str(err)))
        ctx.close()
        raise err from None
    except Exception as exc:
        _fail(ctx, exc)
        raise
    ctx.close()


def _record(ctx: JobContext, status: str, error: str | None = None) -> None:
    """The attempt's outcome; the stage's own status only if its outputs were being replaced."""
    if not is_main_process():
        return
    ctx.run.update_attempt(ctx.stage, status=status, finished=now(), error=error)
    if ctx.replacing:
        ctx.run.update_stage(ctx.stage, status=status, finished=now(), error=error)


def _fail(ctx: JobContext, exc: Exception) -> None:
    """Record an unexpected failure (a bug): manifest, and a JobFailed event with the traceback."""
    _record(ctx, "failed", repr(exc))
    ctx.emit(JobFailed(ctx.job, message=f"{type(exc).__name__}: {exc}", details=traceback.format_exc()))
    ctx.close()


def finish_stage(ctx: JobContext, result: Any, **manifest_fields: Any) -> None:
    """Write result.json (last, atomically) and mark the stage in the manifest."""
    data = result.to_dict()
    if not is_main_process():
        return
    status = data.get("status", "completed")
    if status == "completed":
        atomic_write_json(ctx.layout.result_file(ctx.stage), data)
    ctx.run.update_stage(ctx.stage, status=status, finished=now(), fingerprint=ctx.fingerprint, **manifest_fields)
    ctx.run.update_attempt(ctx.stage, status=status, finished=now())
    ctx.emit(JobFinished(ctx.job, status=status,
                         summary={k: v for k, v in data.items() if k in ("metrics", "wall_seconds", "stop_reason", "steps_done", "total_steps")},
                         paths={k: v for k, v in data.items() if k in ("model_dir", "checkpoint", "run_dir") and v}))
