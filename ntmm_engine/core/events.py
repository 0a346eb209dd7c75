"""Typed events emitted by engine jobs, and the cancel token they obey.

Jobs call ``on_event(event)`` from whatever thread they run on; the GUI turns
events into queued Qt signals, the CLI prints them, and the run folder keeps
them as JSON Lines (:func:`event_to_dict`). Events are plain, picklable data.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import Cancelled


@dataclass
class Event:
    """Base of all events. ``job`` names the job (teacher, distill, ...)."""

    job: str
    time: float = field(default_factory=time.time, kw_only=True)

    @property
    def kind(self) -> str:
        return type(self).__name__


@dataclass
class JobStarted(Event):
    total_steps: int = 0
    device: str = "cpu"
    precision: str = "fp32"
    run_dir: str = ""
    resumed_from: str | None = None
    start_step: int = 0  # a resumed run starts at its checkpoint's step, not at 0


@dataclass
class Progress(Event):
    """Progress of a phase that is not a training step (tokenizing, caching, export...)."""

    phase: str = ""
    done: int = 0
    total: int = 0
    eta_seconds: float | None = None
    message: str = ""


@dataclass
class TrainLog(Event):
    """One logging step of training. ``extra`` holds job-specific values (loss parts)."""

    step: int = 0
    max_steps: int = 0
    epoch: float = 0.0
    loss: float | None = None
    learning_rate: float | None = None
    grad_norm: float | None = None
    samples_per_second: float | None = None
    eta_seconds: float | None = None
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class Evaluation(Event):
    """Metrics on one split: loss, accuracy, macro_f1, per_class, confusion, ..."""

    step: int = 0
    epoch: float = 0.0
    split: str = "validation"
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckpointSaved(Event):
    step: int = 0
    path: str = ""


@dataclass
class LogMessage(Event):
    level: str = "info"
    text: str = ""


@dataclass
class JobFinished(Event):
    status: str = "completed"  # completed | cancelled
    summary: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)


@dataclass
class JobFailed(Event):
    message: str = ""
    details: str = ""


@dataclass
class BenchmarkRow(Event):
    """One measured benchmark variant (keys as in benchmark.json's rows).

    Rows are keyed by ``row["variant"]``: a later row for the same variant
    replaces an earlier one (``final`` rows add the speed-up and compression
    ratios, which need the teacher and the fp32 student measured).
    """

    row: dict[str, Any] = field(default_factory=dict)
    final: bool = False


EVENT_TYPES = {
    cls.__name__: cls
    for cls in (JobStarted, Progress, TrainLog, Evaluation, CheckpointSaved, LogMessage, JobFinished, JobFailed, BenchmarkRow)
}


EventCallback = Callable[[Event], None]


def event_to_dict(event: Event) -> dict[str, Any]:
    return {"kind": event.kind, **dataclasses.asdict(event)}


def event_from_dict(data: dict[str, Any]) -> Event:
    data = dict(data)
    cls = EVENT_TYPES[data.pop("kind")]
    return cls(**data)


def ignore_event(event: Event) -> None:
    """Default ``on_event`` that drops events."""


class CancelToken:
    """Thread-safe flag a job polls at step boundaries.

    ``raise_if_cancelled()`` raises :class:`Cancelled`; training jobs instead
    ask the Trainer to stop and save a resumable checkpoint.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class ProgressReporter:
    """Emits :class:`Progress` for a counted phase, at most every ``interval`` seconds.

    Also checks the cancel token on every ``advance`` so long loops stay cancellable.
    """

    def __init__(self, job: str, phase: str, total: int, on_event: EventCallback,
                 cancel: CancelToken | None = None, interval: float = 0.2):
        self.job, self.phase, self.total = job, phase, max(int(total), 0)
        self.on_event, self.cancel, self.interval = on_event, cancel, interval
        self.done = 0
        self._start = time.monotonic()
        self._last = 0.0
        self._emit(force=True)

    def advance(self, n: int = 1, message: str = "", force: bool = False) -> None:
        """Count ``n`` more done; ``force`` emits now (a message the user must see, e.g. "resumed")."""
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()
        self.done += n
        self._emit(message=message, force=force or self.done >= self.total)

    def _emit(self, message: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        elapsed = now - self._start
        eta = None
        if self.done and self.total:
            eta = elapsed / self.done * max(self.total - self.done, 0)
        self.on_event(Progress(self.job, phase=self.phase, done=self.done, total=self.total,
                               eta_seconds=eta, message=message))
