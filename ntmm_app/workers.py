"""Jobs and short tasks on QThreads: how the window runs engine work without freezing.

A job (teacher, distill, optimize, benchmark) runs in a :class:`JobThread`:
its ``on_event`` callback emits a Qt signal from the worker thread, which Qt
queues to the UI thread because the receiving :class:`JobRunner` lives there.
Cancel sets the engine's :class:`~ntmm_engine.core.events.CancelToken`; the job
stops at its next step. :class:`JobRunner` runs one job at a time per window
(so two jobs never write the same run folder) and can chain several
("Run all remaining steps").

Short read-only work (data preview, data report, loading a model, predicting)
goes through :class:`TaskManager`: one QThread per task, and a newer task with
the same key makes the older one's result obsolete (it is dropped).

The engine's façade (:mod:`ntmm_engine.api`) is cheap to import; torch and
transformers load inside the threads (or the warm-up, :mod:`.warmup`), so the
window opens without them.

Plain QThreads rather than superqt's generator workers: engine jobs are
ordinary functions that report through a callback, and one thread object per
job gives ordered outcome signals, a place to batch events, and a registry
(:func:`live_threads`) that the tests and the window's close check.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QElapsedTimer, QObject, QThread, Signal, Slot

from ntmm_engine import api
from ntmm_engine.core.errors import Cancelled, NTMMError
from ntmm_engine.core.events import CancelToken

from . import warmup
from .qtcompat import guard_singleton_refcounts

guard_singleton_refcounts()  # every engine event is a signal emitted from Python: see qtcompat

# jobs started from dialogs rather than steps, and their names for people
JOB_TITLES = {"lr_find": "Learning-rate test", "data": "Data check", "classical": "Classical baseline"}


def job_title(name: str) -> str:
    """A job's name for status lines and dialogs ("teacher" -> "Teacher")."""
    return JOB_TITLES.get(name, name.capitalize())


# Every thread started here, until it has finished (tests check none is left running).
_THREADS: set[QThread] = set()


def live_threads() -> list[QThread]:
    """Threads started by this module that are still running."""
    return [t for t in list(_THREADS) if t.isRunning()]


def wait_all(timeout_ms: int = 30000) -> bool:
    """Wait (processing events) until every worker thread has finished."""
    timer = QElapsedTimer()
    timer.start()
    while live_threads():
        if timer.elapsed() > timeout_ms:
            return False
        for t in live_threads():
            t.wait(20)
        QCoreApplication.processEvents()
    return True


# How much lower than the UI the job threads run (a Unix nice increment, 0-19). torch keeps every
# core busy; at nice 10 the UI thread gets the CPU first whenever it has work: the 99th percentile
# of UI timer lateness during a teacher run halved (6-8 ms against 12-13 ms on 2 cores,
# bench/gui_responsiveness.py --real --job-nice 0). Training runs at full speed whenever the UI is
# idle. NTMM_JOB_NICE=0 turns this off.
JOB_NICE = 10
START_GRACE_S = 0.15  # see JobThread.run


def lower_thread_priority() -> None:
    """Run the calling worker thread (and the threads it starts, e.g. torch's pool) below the UI thread."""
    try:
        nice = int(os.environ.get("NTMM_JOB_NICE", JOB_NICE))
    except ValueError:
        nice = JOB_NICE
    if nice <= 0:
        return
    if sys.platform.startswith("linux"):
        # Qt's thread priorities do nothing under Linux's default scheduler, but Linux keeps a nice
        # value per thread, which new threads inherit, so torch's OpenMP workers follow.
        tid = threading.get_native_id()
        try:
            os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), min(nice, 19)))
        except OSError:  # a sandbox that forbids it: run at normal priority
            pass
    else:  # Windows and macOS map this to their own thread priorities
        QThread.currentThread().setPriority(QThread.Priority.LowPriority)


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """(message, details): a user error shows its text only; a bug adds the traceback."""
    if isinstance(exc, NTMMError):
        return str(exc), ""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"Unexpected error ({type(exc).__name__}): {exc}", tb


@dataclass
class JobSpec:
    """One job to run: its name, its function (or "module:function") and arguments."""

    name: str
    target: Callable
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


class JobThread(QThread):
    """Runs one job function; its events and its outcome become signals.

    Events are batched: the worker appends to a list and signals only when the
    UI has taken the previous batch, so a job that emits thousands of events a
    second cannot flood the UI thread's queue (the UI drains at its own pace).
    """

    events_ready = Signal()
    succeeded = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal(object)

    def __init__(self, spec: JobSpec, cancel) -> None:
        super().__init__()
        self.spec = spec
        self.cancel_token = cancel
        self._lock = threading.Lock()
        self._pending: list[Any] = []
        self._signalled = False

    def on_event(self, ev: Any) -> None:  # worker thread (the job's on_event)
        with self._lock:
            self._pending.append(ev)
            if self._signalled:
                return
            self._signalled = True
        self.events_ready.emit()

    def drain(self) -> list[Any]:  # UI thread
        with self._lock:
            batch, self._pending = self._pending, []
            self._signalled = False
        return batch

    def run(self) -> None:  # worker thread
        lower_thread_priority()
        # The window repaints for the new state when a job starts (buttons, progress, cleared curves);
        # the job's own start (reading files, loading the tokenizer and model) competing with that
        # for the CPU and the GIL stretched it into a 140-180 ms freeze at every Start, 30-60 ms
        # without (bench/gui_responsiveness.py --real). A moment's head start for the UI.
        if not self.cancel_token.cancelled:
            time.sleep(START_GRACE_S)
        warmup.ensure_imported()
        try:
            result = self.spec.target(*self.spec.args, on_event=self.on_event, cancel=self.cancel_token, **self.spec.kwargs)
        except Cancelled:
            self.cancelled.emit(None)
            return
        except BaseException as exc:  # shown in the error dialog; the thread must never die silently
            self.failed.emit(*describe_exception(exc))
            return
        if getattr(result, "status", "completed") == "cancelled" or self.cancel_token.cancelled:
            self.cancelled.emit(result)
        else:
            self.succeeded.emit(result)


class JobRunner(QObject):
    """Runs engine jobs one at a time, optionally as a queue; signals arrive in the UI thread."""

    started = Signal(str)                 # job name
    event = Signal(object)                # any engine event of the running job
    finished = Signal(str, object)        # job name, result (completed)
    failed = Signal(str, str, str)        # job name, message, details
    cancelled = Signal(str, object)       # job name, result or None
    busy_changed = Signal(bool)
    queue_done = Signal(bool)             # True if every queued job completed

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: JobThread | None = None
        self._queue: list[JobSpec] = []
        self._queued_run = False
        self._name = ""
        self._outcome: tuple[str, Any] | None = None

    # ------------------------------------------------------------ state
    @property
    def busy(self) -> bool:
        return self._thread is not None

    @property
    def current(self) -> str:
        """Name of the running job ("" when idle)."""
        return self._name if self.busy else ""

    @property
    def current_spec(self) -> JobSpec | None:
        return self._thread.spec if self._thread is not None else None

    @property
    def queued_run(self) -> bool:
        """True while a "run all" queue is being worked through."""
        return self._queued_run

    @property
    def pending(self) -> list[str]:
        return [s.name for s in self._queue]

    # ------------------------------------------------------------ control
    def start(self, name: str, target: Callable | None = None, *args: Any, **kwargs: Any) -> bool:
        """Start one job (a stage's engine job unless ``target`` is given); False if a job is already running."""
        if self.busy:
            return False
        self._queue = []
        self._queued_run = False
        self._launch(JobSpec(name, target or api.stage_job(name), args, kwargs))
        return True

    def run_queue(self, specs: list[JobSpec]) -> bool:
        """Run jobs one after another; a failure or cancel drops the rest."""
        if self.busy or not specs:
            return False
        self._queue = list(specs[1:])
        self._queued_run = True
        self._launch(specs[0])
        return True

    def cancel(self) -> None:
        """Ask the running job to stop at its next step, and drop queued jobs."""
        self._queue = []
        if self._thread is not None:
            self._thread.cancel_token.cancel()

    def wait(self, timeout_ms: int = 60000) -> bool:
        """Block (processing events) until the runner is idle; False on timeout."""
        timer = QElapsedTimer()
        timer.start()
        while self.busy or self._queue:
            if timer.elapsed() > timeout_ms:
                return False
            if self._thread is not None:
                self._thread.wait(20)
            QCoreApplication.processEvents()
        return True

    # ------------------------------------------------------------ internals
    def _launch(self, spec: JobSpec, chained: bool = False) -> None:

        thread = JobThread(spec, CancelToken())
        thread.events_ready.connect(self._on_events_ready)
        thread.succeeded.connect(self._on_succeeded)
        thread.failed.connect(self._on_failed)
        thread.cancelled.connect(self._on_cancelled)
        thread.finished.connect(self._on_thread_finished)
        self._thread = thread
        self._name = spec.name
        _THREADS.add(thread)
        thread.start()
        if not chained:
            self.busy_changed.emit(True)
        self.started.emit(spec.name)

    @Slot()
    def _on_events_ready(self) -> None:
        if self._thread is not None:
            for ev in self._thread.drain():
                self.event.emit(ev)

    @Slot(object)
    def _on_succeeded(self, result: Any) -> None:
        self._outcome = ("finished", result)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self._outcome = ("failed", (message, details))

    @Slot(object)
    def _on_cancelled(self, result: Any) -> None:
        self._outcome = ("cancelled", result)

    @Slot()
    def _on_thread_finished(self) -> None:
        # Emitted after the outcome signal (same sender thread, queued in order).
        self._on_events_ready()  # anything emitted after the last batch
        thread, self._thread = self._thread, None
        _THREADS.discard(thread)
        name = self._name
        kind, payload = self._outcome or ("failed", ("The job stopped without a result.", ""))
        self._outcome = None
        if kind != "finished":
            self._queue = []
        if kind == "finished":
            self.finished.emit(name, payload)
        elif kind == "failed":
            self.failed.emit(name, *payload)
        else:
            self.cancelled.emit(name, payload)
        if self._queue:
            self._launch(self._queue.pop(0), chained=True)
            return
        self.busy_changed.emit(False)
        if self._queued_run:
            self._queued_run = False
            self.queue_done.emit(kind == "finished")


class TaskThread(QThread):
    """Runs one short function off the UI thread."""

    done = Signal(object)
    error = Signal(str, str)
    progress = Signal(int, int)

    def __init__(self, fn: Callable, args: tuple, kwargs: dict) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs

    def run(self) -> None:  # worker thread
        if self.fn is warmup.preload:
            lower_thread_priority()  # the imports may take their time; the first page may not
        else:
            warmup.ensure_imported()  # the first worker imports, the others wait: no half-built modules
        try:
            result = self.fn(*self.args, **self.kwargs)
        except Exception as exc:
            self.error.emit(*describe_exception(exc))
            return
        except BaseException as exc:  # Cancelled: a task that was abandoned
            self.error.emit(f"stopped: {type(exc).__name__}", "")
            return
        self.done.emit(result)


class Task(QObject):
    """A submitted task; ``on_done(result)`` / ``on_error(message, details)`` run in the UI thread."""

    def __init__(self, manager: "TaskManager", key: str, fn: Callable, args: tuple, kwargs: dict,
                 on_done: Callable | None, on_error: Callable | None, on_progress: Callable | None = None) -> None:
        super().__init__(manager)
        self.manager, self.key = manager, key
        self.on_done, self.on_error, self.on_progress = on_done, on_error, on_progress
        self.obsolete = False
        self.thread = TaskThread(fn, args, kwargs)
        if on_progress is not None:
            # The function reports (done, total) through a signal, queued to the UI thread.
            kwargs["on_progress"] = self.thread.progress.emit
            self.thread.progress.connect(self._progress)
        self.thread.done.connect(self._done)
        self.thread.error.connect(self._error)
        self.thread.finished.connect(self._finished)

    @Slot(int, int)
    def _progress(self, done: int, total: int) -> None:
        if not self.obsolete and self.on_progress is not None:
            self.on_progress(done, total)

    @Slot(object)
    def _done(self, result: Any) -> None:
        if not self.obsolete and self.on_done is not None:
            self.on_done(result)

    @Slot(str, str)
    def _error(self, message: str, details: str) -> None:
        if not self.obsolete and self.on_error is not None:
            self.on_error(message, details)

    @Slot()
    def _finished(self) -> None:
        _THREADS.discard(self.thread)
        self.manager._forget(self)


class TaskManager(QObject):
    """Starts short tasks on their own threads; one live result per key."""

    busy_changed = Signal(str, bool)  # key, busy

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: list[Task] = []
        self._closed = False

    def submit(self, key: str, fn: Callable, *args: Any, on_done: Callable | None = None,
               on_error: Callable | None = None, on_progress: Callable | None = None, **kwargs: Any) -> Task | None:
        """Run ``fn(*args, **kwargs)`` on a new thread; callbacks run in the UI thread.

        With ``on_progress``, ``fn`` also gets ``on_progress=`` to call with (done, total).
        """
        if self._closed:
            return None
        for t in self._tasks:
            if t.key == key:
                t.obsolete = True
        task = Task(self, key, fn, args, dict(kwargs), on_done, on_error, on_progress)
        self._tasks.append(task)
        _THREADS.add(task.thread)
        task.thread.start()
        self.busy_changed.emit(key, True)
        return task

    def busy(self, key: str | None = None) -> bool:
        return any(not t.obsolete and (key is None or t.key == key) for t in self._tasks)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Drop every pending result and wait for the threads (window closing)."""
        self._closed = True
        for t in self._tasks:
            t.obsolete = True
        timer = QElapsedTimer()
        timer.start()
        for t in list(self._tasks):
            t.thread.wait(max(1, timeout_ms - timer.elapsed()))
        QCoreApplication.processEvents()
        return not any(t.thread.isRunning() for t in self._tasks)

    def _forget(self, task: Task) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
        if not self._closed and not any(t.key == task.key and not t.obsolete for t in self._tasks):
            self.busy_changed.emit(task.key, False)
        task.deleteLater()
