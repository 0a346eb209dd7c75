"""Distillation on Medical Abstracts: teacher vs distilled 2-layer student vs no-distillation baseline.

    python bench/distill_medical.py [--tag NAME] [--set distill.alpha=0.9 ...]

Needs the teacher from bench/teacher_medical.py (bench/results/runs/medical/teacher/model).
Writes bench/results/distill_medical[-TAG].{json,md}; the students stay in the run folder
(bench/results/runs/medical[-TAG]/distill/) for the optimization benchmark.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from common import RESULTS, medical_config, md_table, peak_rss_mb, save


def batch1_latency_ms(model_dir: str, texts: list[str], max_length: int, n: int = 60) -> float:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    times = []
    with torch.inference_mode():
        for i, t in enumerate(texts[: n + 5]):
            enc = tok(t, truncation=True, max_length=max_length, return_tensors="pt")
            t0 = time.perf_counter()
            model(**enc)
            if i >= 5:
                times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tag", default="")
    ap.add_argument("--set", action="append", default=[])
    args = ap.parse_args()
    from ntmm_engine.cli.console import ConsoleView
    from ntmm_engine.distill.job import run_distill

    teacher_run = RESULTS / "runs" / "medical"
    run = RESULTS / "runs" / (f"medical-{args.tag}" if args.tag else "medical")
    cfg = medical_config(run)
    cfg.distill.teacher = str(teacher_run / "teacher" / "model")
    for item in args.set:
        k, v = item.split("=", 1)
        cfg.set_value(k, v)
    t0 = time.monotonic()
    r = run_distill(cfg, ConsoleView())
    wall = time.monotonic() - t0
    print(r.summary_text())
    d = r.to_dict()
    import pandas as pd
    texts = pd.read_csv(cfg.resolve(cfg.data.test))[cfg.data.text_column].tolist()
    lat = {"teacher": batch1_latency_ms(cfg.distill.teacher, texts, cfg.data.max_length),
           "student": batch1_latency_ms(r.student.model_dir, texts, cfg.data.max_length)}
    rows = []
    models = {"teacher": r.teacher_metrics, "distilled student": r.student.metrics}
    if r.baseline:
        models["baseline student (hard labels)"] = r.baseline.metrics
    for name, m in models.items():
        rows.append({"model": name, "val acc": m["validation"]["accuracy"], "val macro-F1": m["validation"]["macro_f1"],
                     "test acc": m["test"]["accuracy"], "test macro-F1": m["test"]["macro_f1"]})
    spe = r.seconds_per_epoch
    extra = (f"\n\nStudent: {r.parameters.get('student', 0) / 1e6:.2f}M parameters vs teacher {r.parameters.get('teacher', 0) / 1e6:.2f}M; "
             f"batch-1 median latency (torch fp32) teacher {lat['teacher']:.1f} ms, student {lat['student']:.1f} ms "
             f"= {lat['teacher'] / lat['student']:.2f}x speed-up.\n"
             f"Epoch time: distillation {spe.get('distill', float('nan')):.1f} s, baseline {spe.get('baseline', float('nan')):.1f} s "
             f"= {spe.get('distill', float('nan')) / spe.get('baseline', float('nan')):.2f}x (teacher cache hit: {r.teacher_cache.get('hit')}).\n"
             f"Settings: T={cfg.distill.temperature}, alpha={cfg.distill.alpha}, w_cos={cfg.distill.cosine_weight}, "
             f"w_mse={cfg.distill.mse_weight}, epochs={cfg.distill.epochs}, lr={cfg.distill.learning_rate}, "
             f"layers {r.construction.get('layer_indices')}; overrides {args.set}. Wall {wall:.0f} s.")
    save(f"distill_medical{'-' + args.tag if args.tag else ''}",
         {"result": d, "latency_ms_batch1": lat, "wall_seconds": wall, "peak_rss_mb": peak_rss_mb(), "overrides": args.set},
         "Medical Abstracts: teacher vs distilled student vs baseline\n\n"
         + md_table(rows, ["model", "val acc", "val macro-F1", "test acc", "test macro-F1"]) + extra)


if __name__ == "__main__":
    main()
