"""The demo project end to end: ``ntmm pipeline`` from a clean folder, then again (all up to date),
then with the distillation cancelled half-way and resumed.

    python bench/demo_pipeline.py [--folder DIR]

Writes bench/results/demo_pipeline.{json,md}; the project stays in DIR (default
bench/results/runs/demo) for screenshots (python scripts/screenshots.py DIR/ntmm.yaml).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from common import RESULTS, md_table, peak_rss_mb, save


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", default=str(RESULTS / "runs" / "demo"))
    args = ap.parse_args()
    from ntmm_engine.cli.console import ConsoleView
    from ntmm_engine.core.config import load_config
    from ntmm_engine.core.events import CancelToken, TrainLog
    from ntmm_engine.pipeline import Pipeline
    from ntmm_engine.core.project import write_starter

    folder = Path(args.folder)
    shutil.rmtree(folder, ignore_errors=True)
    path = write_starter(folder, demo=True)
    cfg = load_config(path)
    rows = []

    t0 = time.monotonic()
    clean = Pipeline(cfg, ConsoleView()).run()
    rows.append({"run": "clean folder", "wall s": time.monotonic() - t0, "stages": str(clean.stages)})

    t0 = time.monotonic()
    again = Pipeline(cfg, ConsoleView()).run()
    rows.append({"run": "again, nothing changed", "wall s": time.monotonic() - t0, "stages": str(again.stages)})

    # Redo distillation, cancel it half-way, resume: the resumed run continues from the checkpoint.
    cancel = CancelToken()
    view = ConsoleView()

    def on_event(ev):
        view(ev)
        if isinstance(ev, TrainLog) and ev.job == "distill" and ev.step >= ev.max_steps // 2:
            cancel.cancel()
    t0 = time.monotonic()
    part = Pipeline(cfg, on_event, cancel).run(force="distill")
    rows.append({"run": "--force distill, cancelled half-way", "wall s": time.monotonic() - t0, "stages": str(part.stages)})
    t0 = time.monotonic()
    resumed = Pipeline(cfg, ConsoleView()).run()
    rows.append({"run": "resumed after the cancel", "wall s": time.monotonic() - t0, "stages": str(resumed.stages)})

    teacher = clean.results["teacher"]["metrics"]["test"]
    distill = clean.results["distill"]
    table = md_table(rows, ["run", "wall s", "stages"])
    table += (f"\n\nDemo test split: teacher macro-F1 {teacher['macro_f1']:.4f}, distilled student "
              f"{distill['student']['metrics']['test']['macro_f1']:.4f}, baseline "
              f"{(distill.get('baseline') or {}).get('metrics', {}).get('test', {}).get('macro_f1', float('nan')):.4f}. "
              f"Peak RSS {peak_rss_mb():.0f} MB.")
    save("demo_pipeline", {"rows": rows, "clean": clean.to_dict()}, "Demo project: ntmm pipeline\n\n" + table)


if __name__ == "__main__":
    main()
