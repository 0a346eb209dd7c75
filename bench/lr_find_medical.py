"""LR range test on Medical Abstracts with the teacher recipe, against the learning rate we chose by hand.

    python bench/lr_find_medical.py [--start-lr 1e-6] [--end-lr 1] [--steps 60] [--reuse] [--train]

Runs ``find_lr`` (the same code as ``ntmm lr-find`` and the GUI's "Find…"
button) on a fresh copy of the bundled MiniLM with the Medical Abstracts
training split and the default teacher recipe (batch 16 x accumulation 4).
The hand-chosen learning rate is the recipe default, 2e-4, which
bench/teacher_medical.py trains with. ``--train`` also fine-tunes the teacher
at the suggested rate (same recipe and seed) and sets its test figures next to
those of bench/results/teacher_medical.json (the chosen rate); ``--reuse``
takes the range test saved by an earlier run instead of running it again.
Writes bench/results/lr_find_medical.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import time

from common import RESULTS, medical_config, md_table, peak_rss_mb, save


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--start-lr", type=float, default=1e-6)
    ap.add_argument("--end-lr", type=float, default=1.0)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--reuse", action="store_true", help="use the range test saved by an earlier run")
    ap.add_argument("--train", action="store_true", help="also fine-tune the teacher at the suggested rate")
    args = ap.parse_args()
    from ntmm_engine.cli.console import ConsoleView
    from ntmm_engine.train.lr_finder import LRFinderResult, find_lr, lr_find_path

    cfg = medical_config(RESULTS / "runs" / "medical-lrfind")
    chosen = cfg.teacher.learning_rate
    t0 = time.monotonic()
    saved = lr_find_path(cfg)
    if args.reuse and saved.is_file():
        r = LRFinderResult(**json.loads(saved.read_text()))
        wall = r.wall_seconds
    else:
        r = find_lr(cfg, ConsoleView(), start_lr=args.start_lr, end_lr=args.end_lr, num_steps=args.steps)
        wall = time.monotonic() - t0
    print(r.summary_text())
    rows = [{"learning rate": f"{lr:.2e}", "loss": loss, "smoothed": sm, "": "suggested" if mark else ""}
            for lr, loss, sm, mark in r.curve_rows(15)]
    ratio = (r.suggestion / chosen) if r.suggestion else float("nan")
    text = (f"Medical Abstracts, LR range test with the teacher recipe (batch {cfg.teacher.batch_size} x "
            f"{cfg.teacher.gradient_accumulation_steps} accumulation, AdamW, label smoothing {cfg.teacher.label_smoothing}) "
            f"on bundled MiniLM, max_length {cfg.data.max_length}.\n\n"
            + md_table(rows, ["learning rate", "loss", "smoothed", ""])
            + (f"\n\nSuggested learning rate: **{r.suggestion:.2e}**" if r.suggestion else "\n\nNo suggestion"))
    text += (f"; hand-chosen (recipe default, used by teacher_medical): {chosen:.0e} "
             f"(suggestion / chosen = {ratio:.2f}). Lowest smoothed loss at "
             f"{r.min_loss_lr:.2e}. Stopped: {r.stopped_reason} after {r.steps} steps. Wall {wall:.0f} s.")
    data = {"result": r.to_dict(), "chosen_lr": chosen, "suggestion_over_chosen": ratio,
            "wall_seconds": wall, "peak_rss_mb": peak_rss_mb(), "settings": vars(args)}
    if args.train and r.suggestion:
        from ntmm_engine.train.teacher import run_teacher

        cfg.teacher.learning_rate = float(f"{r.suggestion:.1e}")  # as the GUI's "Apply" rounds it
        t1 = time.monotonic()
        teacher = run_teacher(cfg, ConsoleView())
        chosen_run = json.loads((RESULTS / "teacher_medical.json").read_text())["teacher"]
        rows = []
        for name, lr, metrics, secs in (
                ("chosen (teacher_medical)", chosen, chosen_run["metrics"], chosen_run["wall_seconds"]),
                ("suggested", cfg.teacher.learning_rate, teacher.metrics, time.monotonic() - t1)):
            rows.append({"learning rate": f"{lr:.1e}", "val macro-F1": metrics["validation"]["macro_f1"],
                         "test acc": metrics["test"]["accuracy"], "test macro-F1": metrics["test"]["macro_f1"],
                         "wall s": secs})
        data["teacher_at_suggestion"] = {"learning_rate": cfg.teacher.learning_rate, "stop_reason": teacher.stop_reason,
                                         "steps": teacher.steps_done, "metrics": {
                                             s: {k: m[k] for k in ("accuracy", "macro_f1", "loss")}
                                             for s, m in teacher.metrics.items()}}
        text += ("\n\nTeacher fine-tuned with each rate (same recipe, seed 42, 4 epochs; the chosen-rate figures come from "
                 "bench/teacher_medical.py, whose wall time was measured on a loaded machine):\n\n"
                 + md_table(rows, ["learning rate", "val macro-F1", "test acc", "test macro-F1", "wall s"]))
    save("lr_find_medical", data, text)


if __name__ == "__main__":
    main()
