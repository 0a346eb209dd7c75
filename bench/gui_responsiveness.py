"""How responsive the NTMM window stays while a job floods it with events.

    python bench/gui_responsiveness.py [--seconds 5] [--rate 2000] [--project PROJECT.yaml] [--real] [--runs N]

A synthetic job (default) emits TrainLog events (with loss parts) and
periodic Evaluation events from a worker thread at ``--rate`` events/s into
the real window through the real JobRunner; the Distill page's live view
draws them. Meanwhile a 10 ms QTimer on the UI thread records how late each
tick fires: the event-loop latency a user would feel as lag. With
``--real --project P`` the project's teacher job runs instead for
``--seconds`` and is then cancelled. Writes bench/results/gui_responsiveness[-real].json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TICK_MS = 10


def synthetic_job(config=None, on_event=None, cancel=None, seconds: float = 5.0, rate: float = 2000.0):
    """Emit TrainLog/Evaluation events at ``rate`` per second for ``seconds`` (like a very fast trainer)."""
    from ntmm_engine.core.events import Evaluation, JobFinished, JobStarted, TrainLog

    total = int(seconds * rate)
    on_event(JobStarted("distill", total_steps=total))
    t0 = time.perf_counter()
    for step in range(1, total + 1):
        if cancel.cancelled:
            break
        on_event(TrainLog("distill", step=step, max_steps=total, epoch=step / 100, loss=1 / step ** 0.3,
                          learning_rate=1e-4, samples_per_second=rate * 16, eta_seconds=(total - step) / rate,
                          extra={"loss_kl": 0.5 / step ** 0.2, "loss_ce": 0.4, "loss_cos": 0.1, "loss_mse": 0.05}))
        if step % 200 == 0:
            on_event(Evaluation("distill", step=step, split="validation",
                                metrics={"loss": 1 / step ** 0.3, "accuracy": 0.8, "macro_f1": 0.78}))
        wait = t0 + step / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
    on_event(JobFinished("distill", status="completed"))
    return None


class TickClock:
    """A 10 ms QTimer on the UI thread that records the gap between its ticks (ms) and when (s)."""

    def __init__(self) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.clock = QElapsedTimer()
        self.clock.start()
        self.last = [self.clock.nsecsElapsed()]  # a list: the watchdog thread reads it
        self.gaps: list[float] = []
        self.when: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed()
        self.gaps.append((now - self.last[0]) / 1e6)
        self.when.append(now / 1e9)
        self.last[0] = now


def measure_warmup(win, diagnose: bool = False) -> dict:
    """Largest gap between 10 ms UI ticks from the window's first show until the app's background
    warm-up imports have finished."""
    from PySide6.QtCore import QCoreApplication

    ticks = TickClock()
    stalls: list[str] = []
    watchdog = start_watchdog(ticks.clock, ticks.last, stalls, win) if diagnose else None
    ticks.timer.start()
    win.start_warmup()  # with the app's delay after the window shows
    t0 = time.perf_counter()
    QCoreApplication.processEvents()
    # until the pages are built, the data preview is done and the warm-up (which waits for running
    # workers) has started and finished
    while not win.is_idle() and time.perf_counter() - t0 < 180:
        QCoreApplication.processEvents()
        time.sleep(0.001)
    ticks.timer.stop()
    if watchdog:
        watchdog.set()
    for text in stalls:
        print("[warm-up]", text)
    if diagnose:
        print("[warm-up] largest gaps (ms @ s):", sorted(zip(ticks.gaps, ticks.when), reverse=True)[:6])
    return {"seconds": round(time.perf_counter() - t0, 2), "largest_gap_ms": round(max(ticks.gaps[1:] or [0]), 1)}


def start_watchdog(clock, last, stalls: list[str], win, threshold_ms: float = 50.0):
    """A daemon thread that records every thread's stack when the UI tick is over ``threshold_ms`` late;
    returns the event that stops it."""
    import threading
    import traceback

    stop = threading.Event()

    main_id = threading.main_thread().ident
    names = {}

    def watch() -> None:
        seen = None
        while not stop.is_set():
            time.sleep(0.005)
            late = (clock.nsecsElapsed() - last[0]) / 1e6
            if late > threshold_ms and seen != last[0]:
                seen = last[0]
                frames = sys._current_frames()
                names.update({t.ident: t.name for t in threading.enumerate()})
                parts = [f"--- stall: {late:.0f} ms since the last tick (at {clock.elapsed() / 1000:.2f} s); job {win.runner.current}"]
                for ident, frame in frames.items():
                    if ident == threading.get_ident():
                        continue
                    who = "UI" if ident == main_id else names.get(ident, ident)
                    parts.append(f"[{who}]\n" + "".join(traceback.format_stack(frame, limit=8)))
                stalls.append("\n".join(parts))

    threading.Thread(target=watch, daemon=True, name="watchdog").start()
    return stop


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--rate", type=float, default=2000.0, help="events per second of the synthetic job")
    p.add_argument("--project", help="project file (default: the demo project, created in a temp folder)")
    p.add_argument("--real", action="store_true", help="run the project's teacher job instead of the synthetic one")
    p.add_argument("--no-warmup", action="store_true", help="(--real) skip the app's background warm-up imports")
    p.add_argument("--diagnose", action="store_true",
                   help="print where the UI and worker threads were during each stall over 50 ms")
    p.add_argument("--runs", type=int, default=1, help="repeat the measurement, each in a fresh process (a new app start)")
    p.add_argument("--job-nice", type=int,
                   help="priority of the job threads below the UI (NTMM_JOB_NICE; the app's default is 10, 0 = off)")
    p.add_argument("--tag", help="save as gui_responsiveness[-real]-TAG (e.g. a comparison run)")
    p.add_argument("--summary-json", help=argparse.SUPPRESS)  # a child run: write the summary here, save nothing
    args = p.parse_args()
    if args.job_nice is not None:
        os.environ["NTMM_JOB_NICE"] = str(args.job_nice)
    if args.runs > 1:
        summaries = [run_child(i, args) for i in range(args.runs)]
    else:
        summaries = [measure(args)]
        if args.summary_json:
            Path(args.summary_json).write_text(json.dumps(summaries[0]))
            return
    save_results(args, summaries)


def run_child(index: int, args) -> dict:
    """One measurement in a fresh Python process, as a user's new app start."""
    out = Path(tempfile.mkdtemp(prefix="ntmm-resp-run-")) / "summary.json"
    cmd = [sys.executable, __file__, "--runs", "1", "--summary-json", str(out), "--seconds", str(args.seconds),
           "--rate", str(args.rate)]
    cmd += ["--project", args.project] if args.project else []
    cmd += [flag for flag, on in (("--real", args.real), ("--no-warmup", args.no_warmup), ("--diagnose", args.diagnose)) if on]
    subprocess.run(cmd, check=True)
    summary = json.loads(out.read_text())
    print(f"run {index + 1}/{args.runs}: largest tick gap {summary['largest_gap_ms']} ms", flush=True)
    return summary


def measure(args) -> dict:
    """Open the window, run the job, return the tick statistics (see the module docstring)."""
    tmp = tempfile.mkdtemp(prefix="ntmm-resp-")
    os.environ["NTMM_SETTINGS_FILE"] = str(Path(tmp) / "settings.ini")
    os.environ.setdefault("NTMM_HOME", str(Path(tmp) / "home"))

    from PySide6.QtCore import QCoreApplication, QTimer

    from ntmm_app import workers
    from ntmm_app.app import create_application
    from ntmm_app.main_window import MainWindow

    app = create_application(["bench"])
    win = MainWindow()
    ok = win.open_project(args.project) if args.project else win.open_demo()
    if not ok:
        raise SystemExit("could not open the project")
    win.show()
    if args.real and not args.no_warmup:  # as ntmm-gui does: heavy imports in the background after start-up
        warm = measure_warmup(win, args.diagnose)
    else:
        warm = None
    job_page = "teacher" if args.real else "distill"
    win.go_to(next(i for i, c in enumerate(win.page_classes) if c.key == job_page))
    # settle: pages built, data preview done
    t_settle = time.time()
    while (not win.is_idle() or len(win.built_pages()) < 6) and time.time() - t_settle < 120:
        QCoreApplication.processEvents()
        time.sleep(0.01)

    ticks = TickClock()
    delivered = [0]
    handled: list[tuple[float, str]] = []  # (s on the tick clock, event type): what the UI handled when

    def on_event(ev) -> None:
        delivered[0] += 1
        handled.append((ticks.clock.nsecsElapsed() / 1e9, type(ev).__name__))

    win.runner.event.connect(on_event)
    slow_gcs: list[tuple[float, float, int]] = []  # (end s, ms, generation) of each GC over 5 ms
    if args.diagnose:
        import gc

        gc_start = [0]

        def on_gc(phase, info) -> None:
            now = ticks.clock.nsecsElapsed()
            if phase == "start":
                gc_start[0] = now
            elif (now - gc_start[0]) > 5e6:
                slow_gcs.append((now / 1e9, (now - gc_start[0]) / 1e6, info["generation"]))

        gc.callbacks.append(on_gc)
    live = win.page(job_page).live
    redraws0 = live.loss_plot.redraws

    stalls: list[str] = []
    watchdog = start_watchdog(ticks.clock, ticks.last, stalls, win) if args.diagnose else None
    t0 = time.perf_counter()
    ticks.last[0] = ticks.clock.nsecsElapsed()
    ticks.timer.start()
    if args.real:
        win.page("teacher").start()
        QTimer.singleShot(int(args.seconds * 1000), win.runner.cancel)
    else:
        win.runner.start("distill", synthetic_job, None, seconds=args.seconds, rate=args.rate)
    while win.runner.busy:
        QCoreApplication.processEvents()
        time.sleep(0.001)
    elapsed = time.perf_counter() - t0
    ticks.timer.stop()
    live.flush()
    points = len(live.loss_plot.data("distill:train" if not args.real else "teacher:train")[0])
    lat = np.maximum(np.asarray(ticks.gaps) - TICK_MS, 0.0) if ticks.gaps else np.zeros(1)
    summary = {
        "job": "teacher (real, cancelled after --seconds)" if args.real else f"synthetic, {args.rate:.0f} events/s",
        "seconds": round(elapsed, 2), "events_delivered": delivered[0],
        "events_per_s": round(delivered[0] / elapsed, 1), "curve_points": points,
        "redraws": live.loss_plot.redraws - redraws0, "redraws_per_s": round((live.loss_plot.redraws - redraws0) / elapsed, 1),
        "tick_lateness_ms_p50": round(float(np.percentile(lat, 50)), 2),
        "tick_lateness_ms_p99": round(float(np.percentile(lat, 99)), 2),
        "tick_lateness_ms_max": round(float(lat.max()), 2), "ticks": len(ticks.gaps),
        "largest_gap_ms": round(float(lat.max()) + TICK_MS, 2),
        "warmup": warm, "job_nice": os.environ.get("NTMM_JOB_NICE", str(workers.JOB_NICE)),
    }
    if watchdog:
        watchdog.set()
    for text in stalls:
        print(text)
    if args.diagnose:
        gc.callbacks.remove(on_gc)
        for gap, when in sorted(zip(ticks.gaps, ticks.when), reverse=True)[:8]:
            near = [name for t, name in handled if when - gap / 1000 - 0.005 <= t <= when]
            gcs = [f"{ms:.0f} ms (gen {g})" for t, ms, g in slow_gcs if when - gap / 1000 - 0.005 <= t <= when]
            print(f"gap {gap:.0f} ms ending at {when:.2f} s; events handled in it: {', '.join(near) or 'none'}; "
                  f"garbage collections over 5 ms: {', '.join(gcs) or 'none'}")
    win.project._set_dirty(False)
    win.close()
    workers.wait_all(60000)
    del app
    return summary


def save_results(args, summaries: list[dict]) -> None:
    """One row per run; JSON and Markdown in bench/results."""
    rows = []
    for s in summaries:
        warm = s["warmup"] or {}
        rows.append(f"| {s['job']} | {s['job_nice']} | {s['seconds']} | {s['events_delivered']} | {s['curve_points']} | "
                    f"{s['redraws_per_s']} | {s['tick_lateness_ms_p50']} | {s['tick_lateness_ms_p99']} | "
                    f"**{s['largest_gap_ms']}** | {warm.get('seconds', '')} | {warm.get('largest_gap_ms', '')} |")
    worst = max(s["largest_gap_ms"] for s in summaries)
    table = "\n".join([
        "| job | job nice | s | events | curve points | redraws/s | UI lag p50 ms | p99 ms | largest tick gap ms "
        "| start-up s | start-up largest gap ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"Largest tick gap over {len(summaries)} run(s): **{worst} ms**.",
        "",
        f"UI lag: how late a {TICK_MS} ms timer on the UI thread fired while the job ran (what a user feels as a sluggish "
        "window); the largest gap is the longest time between two ticks. Start-up: from the window's first show until the "
        "pages are built, the data preview is done and the background warm-up imports have finished (before the job). "
        "Curves are redrawn from a timer (about 10 per second), never per event. Each run is a fresh process. "
        f"Qt platform `{os.environ.get('QT_QPA_PLATFORM')}`; project {args.project or 'demo (fresh temp folder)'}.",
    ])
    from common import save
    save("gui_responsiveness" + ("-real" if args.real else "") + (f"-{args.tag}" if args.tag else ""),
         {"runs": summaries, "largest_gap_ms": worst, "settings": vars(args)}, table)


if __name__ == "__main__":
    main()
