"""JobRunner / TaskManager: events reach the UI thread, outcomes, cancel, one job at a time."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from ntmm_engine.core.errors import DataError
from ntmm_engine.core.events import LogMessage

from fakes import FakeResult, slow_job


def test_events_arrive_in_ui_thread_and_result_is_delivered(qtbot):
    from ntmm_app.workers import JobRunner

    runner = JobRunner()
    seen_threads, events = set(), []

    def on_event(ev):
        seen_threads.add(threading.current_thread() is threading.main_thread())
        events.append(ev)

    runner.event.connect(on_event)
    with qtbot.waitSignal(runner.finished, timeout=10000) as sig:
        assert runner.start("teacher", slow_job, None, steps=5)
    assert sig.args[0] == "teacher" and sig.args[1].status == "completed"
    assert [e.step for e in events] == [1, 2, 3, 4, 5]
    assert seen_threads == {True}  # queued to the UI thread
    assert not runner.busy


def test_only_one_job_at_a_time_and_cancel(qtbot):
    from ntmm_app.workers import JobRunner

    runner = JobRunner()
    states, events = [], []
    runner.busy_changed.connect(states.append)
    runner.event.connect(events.append)
    assert runner.start("teacher", slow_job, None)
    assert runner.busy and runner.current == "teacher"
    assert not runner.start("distill", slow_job, None)  # refused while busy
    qtbot.waitUntil(lambda: len(events) >= 3, timeout=10000)  # it really runs before it is cancelled
    with qtbot.waitSignal(runner.cancelled, timeout=10000) as sig:
        runner.cancel()
    assert sig.args[0] == "teacher" and sig.args[1].status == "cancelled"
    assert len(events) < 200  # stopped early, at a step boundary
    assert states == [True, False]
    assert not runner.busy


def test_user_error_has_no_details_bug_has_traceback(qtbot):
    from ntmm_app.workers import JobRunner

    def user_error(config, on_event=None, cancel=None):
        raise DataError("data.csv has no rows.")

    def bug(config, on_event=None, cancel=None):
        return {}["missing"]

    runner = JobRunner()
    with qtbot.waitSignal(runner.failed, timeout=10000) as sig:
        runner.start("teacher", user_error, None)
    assert sig.args == ["teacher", "data.csv has no rows.", ""]
    with qtbot.waitSignal(runner.failed, timeout=10000) as sig:
        runner.start("teacher", bug, None)
    assert "KeyError" in sig.args[1] and "Traceback" in sig.args[2]


def test_queue_runs_in_order_and_stops_on_failure(qtbot):
    from ntmm_app.workers import JobRunner, JobSpec

    order = []

    def job(name, fail=False):
        def run(config, on_event=None, cancel=None):
            order.append(name)
            on_event(LogMessage(name, text="hi"))
            if fail:
                raise DataError("boom")
            return FakeResult()
        return run

    runner = JobRunner()
    with qtbot.waitSignal(runner.queue_done, timeout=10000) as sig:
        runner.run_queue([JobSpec("teacher", job("teacher"), (None,)), JobSpec("distill", job("distill"), (None,))])
    assert sig.args == [True] and order == ["teacher", "distill"]

    order.clear()
    with qtbot.waitSignal(runner.queue_done, timeout=10000) as sig:
        runner.run_queue([JobSpec("teacher", job("teacher", fail=True), (None,)),
                          JobSpec("distill", job("distill"), (None,))])
    assert sig.args == [False] and order == ["teacher"]


def test_task_manager_drops_obsolete_results(qtbot):
    from ntmm_app.workers import TaskManager

    tasks = TaskManager()
    got = []

    def slow(x, delay):
        time.sleep(delay)
        return x

    tasks.submit("k", slow, "old", 0.3, on_done=got.append)
    tasks.submit("k", slow, "new", 0.0, on_done=got.append)
    qtbot.waitUntil(lambda: not tasks.busy("k"), timeout=5000)
    qtbot.wait(400)
    assert got == ["new"]
    assert tasks.shutdown()


def test_task_progress_and_errors(qtbot):
    from ntmm_app.workers import TaskManager

    tasks = TaskManager()
    progress, errs = [], []

    def counted(n, on_progress):
        for i in range(1, n + 1):
            on_progress(i, n)
        return n

    def broken():
        raise DataError("bad file")

    done = []
    tasks.submit("a", counted, 3, on_done=done.append, on_progress=lambda d, t: progress.append((d, t)))
    tasks.submit("b", broken, on_error=lambda m, d: errs.append((m, d)))
    qtbot.waitUntil(lambda: not tasks.busy(), timeout=5000)
    assert done == [3] and progress[-1] == (3, 3)
    assert errs == [("bad file", "")]


def test_workers_import_the_heavy_modules_one_thread_at_a_time(qtbot, monkeypatch):
    """The first worker imports torch/transformers; a task and a job started meanwhile wait for it
    (two first imports at once hand each other half-built modules: "module 'transformers' has no
    attribute 'PreTrainedTokenizerBase'", seen when Run all started during the data preview)."""
    from ntmm_app import warmup
    from ntmm_app.workers import JobRunner, TaskManager

    release = threading.Event()
    order: list[str] = []

    def slow_load(name):  # stands in for the slow first imports
        order.append(f"import {name}")
        release.wait(5)

    monkeypatch.setattr(warmup, "_tried", {})
    monkeypatch.setattr(warmup, "_load", slow_load)
    monkeypatch.setattr(warmup, "HEAVY_MODULES", ("json", "email.mime.text"))
    tasks, runner = TaskManager(), JobRunner()
    tasks.submit("data-preview", lambda: order.append("task"))
    runner.start("teacher", slow_job, None, steps=1)
    qtbot.wait(400)
    assert order == ["import json"]  # one thread imports; the other waits at the lock, work not started
    release.set()
    qtbot.waitUntil(lambda: not tasks.busy() and not runner.busy, timeout=10000)
    assert order == ["import json", "import email.mime.text", "task"]  # imported once, then the work
    assert warmup._tried == {"json": True, "email.mime.text": True}
    assert tasks.shutdown()


def test_window_warmup_imports_the_engine_and_freezes_the_heap(make_window, tiny_project, wait_idle, dialogs):
    import gc
    import sys

    w = make_window(tiny_project)
    w.start_warmup(delay_ms=0)
    wait_idle(w, timeout=120000)
    assert "torch" in sys.modules and "transformers" in sys.modules and "transformers.trainer" in sys.modules
    assert gc.get_freeze_count() > 0
    assert dialogs.errors == []  # the data preview ran after the imports, without import races
    assert w.page("data").table.rowCount() > 0


def _own_nice() -> int:
    import os

    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are a Linux feature")
def test_jobs_run_below_the_ui_thread_priority(qtbot, monkeypatch):
    """A job's thread (and so torch's worker threads, which inherit it) gets a higher nice value than the UI."""
    from ntmm_app.workers import JOB_NICE, JobRunner

    seen: list[int] = []

    def job(config=None, on_event=None, cancel=None):
        seen.append(_own_nice())
        return FakeResult()

    runner = JobRunner()
    ui_nice = _own_nice()
    runner.start("teacher", job)
    qtbot.waitUntil(lambda: not runner.busy, timeout=5000)
    assert seen == [max(ui_nice, JOB_NICE)] and _own_nice() == ui_nice  # the UI thread keeps its priority

    monkeypatch.setenv("NTMM_JOB_NICE", "0")  # turned off
    runner.start("teacher", job)
    qtbot.waitUntil(lambda: not runner.busy, timeout=5000)
    assert seen[-1] == ui_nice


def test_warmup_preload_fetches_lazy_names_and_skips_missing_ones(monkeypatch):
    from ntmm_app import warmup

    monkeypatch.setattr(warmup.gc, "freeze", lambda: None)  # keep this test's heap out of it
    monkeypatch.setattr(warmup, "_tried", {})
    names = ("json:dumps", "json:no_such_name", "no_such_module_ntmm", "email.mime.text")
    assert warmup.preload(names) == ["json:dumps", "email.mime.text"]
    monkeypatch.setattr(warmup, "_load", lambda name: pytest.fail("imported twice"))
    assert warmup.ensure_imported(names) == ["json:dumps", "email.mime.text"]  # remembered, not retried
