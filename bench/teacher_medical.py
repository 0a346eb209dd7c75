"""Teacher fine-tuning on Medical Abstracts with the default recipe, and dynamic vs max_length padding.

    python bench/teacher_medical.py [--epochs 4] [--padding-steps 8] [--skip-train]

Writes bench/results/teacher_medical.{json,md}. The trained teacher stays in
bench/results/runs/medical (used by the distillation and optimization benchmarks).
"""

from __future__ import annotations

import argparse
import time

from common import RESULTS, medical_config, md_table, peak_rss_mb, save


def padding_ratio(cfg, steps: int) -> dict:
    """Time the same number of training steps with dynamic and max_length padding."""
    from ntmm_engine.core.events import CancelToken, TrainLog
    from ntmm_engine.train.teacher import run_teacher

    out = {}
    for padding in ("longest", "max_length"):
        c = medical_config(RESULTS / "runs" / f"padding-{padding}")
        c.teacher.epochs = 1
        c.teacher.early_stopping_patience = 0
        cancel = CancelToken()
        times = []

        def on_event(ev):
            if isinstance(ev, TrainLog):
                times.append((ev.step, time.monotonic()))
                if ev.step >= steps:
                    cancel.cancel()
        c.teacher.logging_steps = 1
        run_teacher(c, on_event, cancel, padding=padding)
        # from step 1 to step `steps` (excludes set-up)
        (s0, t0), (s1, t1) = times[0], times[-1]
        out[padding] = (t1 - t0) / (s1 - s0)
    return {"seconds_per_step_dynamic": out["longest"], "seconds_per_step_max_length": out["max_length"],
            "speedup_dynamic_over_max_length": out["max_length"] / out["longest"], "steps_timed": steps}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=float, default=4)
    ap.add_argument("--padding-steps", type=int, default=6)
    ap.add_argument("--skip-train", action="store_true")
    args = ap.parse_args()
    from ntmm_engine.cli.console import ConsoleView
    from ntmm_engine.train.teacher import run_teacher

    data: dict = {}
    rows = []
    if not args.skip_train:
        cfg = medical_config(RESULTS / "runs" / "medical")
        cfg.teacher.epochs = args.epochs
        t0 = time.monotonic()
        r = run_teacher(cfg, ConsoleView())
        wall = time.monotonic() - t0
        data["teacher"] = {"wall_seconds": wall, "train_seconds": r.train_seconds,
                           "train_samples_per_second": r.train_samples_per_second, "peak_rss_mb": peak_rss_mb(),
                           "stop_reason": r.stop_reason, "steps": r.steps_done, "best_step": r.best_step,
                           "metrics": {s: {k: m[k] for k in ("accuracy", "macro_f1", "loss")} for s, m in r.metrics.items()},
                           "recipe": cfg.teacher.__dict__, "max_length": cfg.data.max_length}
        for s in ("validation", "test"):
            m = r.metrics[s]
            rows.append({"model": "teacher MiniLM-L6 (default recipe)", "split": s, "accuracy": m["accuracy"],
                         "macro-F1": m["macro_f1"], "wall s": wall, "train samples/s": r.train_samples_per_second,
                         "peak RSS MB": peak_rss_mb()})
    data["padding"] = padding_ratio(medical_config(RESULTS / "runs" / "padding"), args.padding_steps)
    table = md_table(rows, ["model", "split", "accuracy", "macro-F1", "wall s", "train samples/s", "peak RSS MB"]) if rows else ""
    p = data["padding"]
    table += (f"\n\nPadding (same data, {p['steps_timed']} optimizer steps of 64 examples each): dynamic {p['seconds_per_step_dynamic']:.2f} s/step, "
              f"max_length {p['seconds_per_step_max_length']:.2f} s/step, dynamic is {p['speedup_dynamic_over_max_length']:.2f}x faster.")
    save("teacher_medical", data, "Teacher on Medical Abstracts (train/validation/test files), max_length 256\n\n" + table)


if __name__ == "__main__":
    main()
