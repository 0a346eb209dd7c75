"""Optimize and benchmark the distilled Medical Abstracts student: every variant in one run.

    python bench/optimize_medical.py [--threads 0] [--samples 100] [--sweep]

Needs bench/teacher_medical.py and bench/distill_medical.py first (the run folder
bench/results/runs/medical). Writes bench/results/optimize_medical.{json,md}; the run folder
also gets optimize/parity.json and benchmark/benchmark.{json,md}.
"""

from __future__ import annotations

import argparse

from common import RESULTS, medical_config, save


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--sweep", action="store_true")
    args = ap.parse_args()
    from ntmm_engine.benchmark.report import markdown_report
    from ntmm_engine.benchmark.job import run_benchmark
    from ntmm_engine.cli.console import ConsoleView
    from ntmm_engine.export.optimize import run_optimize

    cfg = medical_config(RESULTS / "runs" / "medical")
    cfg.distill.teacher = str(cfg.run_path / "teacher" / "model")
    cfg.benchmark.threads = args.threads
    cfg.benchmark.num_samples = args.samples
    cfg.benchmark.sweep = args.sweep
    opt = run_optimize(cfg, ConsoleView())
    print(opt.summary_text())
    bench = run_benchmark(cfg, ConsoleView())
    save("optimize_medical", {"optimize": opt.to_dict(), "benchmark": bench.to_dict()}, markdown_report(bench)
         + "\n\nModels: the Medical Abstracts teacher (MiniLM-L6, fine-tuned) and its distilled 2-layer student.")


if __name__ == "__main__":
    main()
