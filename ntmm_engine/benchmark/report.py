"""Benchmark results: one measured row per variant, the whole result, and its Markdown report.

What is measured and how is described in :mod:`ntmm_engine.benchmark.job`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..core.layout import RunLayout
from ..core.results import Record
from ..reports.calibration import Calibration, calibration_table
from ..reports.intervals import format_score
from .measure import TIMING_NOTE


# ------------------------------------------------------------------ result
@dataclass
class VariantBenchmark(Record):
    """One measured variant (a ``BenchmarkRow`` event carries the same keys as a dict)."""

    variant: str
    path: str = ""
    status: str = "ok"  # ok | failed
    message: str = ""
    notes: list[str] = field(default_factory=list)
    kind: str = ""  # pytorch | torch_int8 | onnx
    # size
    size_bytes: int | None = None
    size_note: str = ""
    weights_bytes: int | None = None
    folder_bytes: int | None = None
    parameters: int | None = None
    max_length: int | None = None
    # speed
    threads: int | None = None
    load_seconds: float | None = None
    latency_ms_median: float | None = None
    latency_ms_p95: float | None = None
    latency_ms_mean: float | None = None
    latency_samples: int | None = None
    throughput_per_s: float | None = None
    throughput_samples: int | None = None
    tokenize_ms_per_text: float | None = None
    torch_threads: int | None = None
    torch_loaded: bool | None = None
    # memory
    peak_rss_bytes: int | None = None
    baseline_rss_bytes: int | None = None
    rss_delta_bytes: int | None = None
    memory_method: str = ""
    # quality on the test split
    accuracy: float | None = None
    macro_f1: float | None = None
    accuracy_ci: list[float] = field(default_factory=list)  # 95 % bootstrap interval
    macro_f1_ci: list[float] = field(default_factory=list)
    agreement: float | None = None  # with the fp32 student
    calibration: Calibration | None = None  # on the test split, with the model's stored temperature and without it
    # ratios (filled once the teacher and the fp32 student are measured)
    speedup_vs_teacher: float | None = None
    throughput_ratio_vs_teacher: float | None = None
    compression_vs_teacher: float | None = None
    speedup_vs_student: float | None = None
    throughput_ratio_vs_student: float | None = None
    compression_vs_student: float | None = None


@dataclass
class BenchmarkResult(Record):
    job: str = "benchmark"
    status: str = "completed"  # completed | cancelled
    run_dir: str = ""
    rows: list[VariantBenchmark] = field(default_factory=list)
    sweep: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float = 0.0

    def row(self, variant: str) -> VariantBenchmark | None:
        return next((r for r in self.rows if r.variant == variant), None)

    def summary_text(self) -> str:
        if self.status != "completed":
            return f"Benchmark {self.status} after {len(self.rows)} variant(s)."
        return markdown_report(self) + f"\nWritten to {RunLayout(self.run_dir).benchmark_md}"


def _fmt(x: Any, spec: str = ".2f", suffix: str = "") -> str:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:{spec}}{suffix}"


def markdown_report(result: BenchmarkResult) -> str:
    env, s = result.environment, result.settings
    lines = ["# NTMM benchmark", "",
             f"Machine: {env.get('cpu', '?')}, {env.get('cpu_count', '?')} logical cores"
             + (f", GPU {env['gpu']}" if env.get("gpu") else "") + f"; {s.get('threads')} thread(s); "
             + ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items() if k in ("torch", "onnxruntime", "transformers")),
             f"Latency: batch 1 over {s.get('latency_samples')} test texts after {s.get('warmup')} warm-up run(s). "
             f"Throughput: batch {s.get('throughput_batch_size')} over {s.get('throughput_samples')} texts. "
             f"Timing covers the {TIMING_NOTE}.",
             f"Peak memory: {s.get('memory_method')}.", "",
             "| Variant | Kind | Size (MB) | Params (M) | Median ms | p95 ms | Samples/s | Speed-up vs teacher | "
             "Compression vs teacher | Speed-up vs student | macro-F1 | Agreement | Peak RSS (MB) | ECE raw | ECE calibrated |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result.rows:
        if r.status != "ok":
            lines.append(f"| {r.variant} | {r.kind or '-'} | {r.status}: {r.message} |" + " |" * 12)
            continue
        raw, cal = (r.calibration.scores("test", False), r.calibration.scores("test", True)) if r.calibration else (None, None)
        lines.append("| " + " | ".join([
            r.variant, r.kind, _fmt(r.size_bytes / 1e6 if r.size_bytes else None), _fmt(r.parameters / 1e6 if r.parameters else None),
            _fmt(r.latency_ms_median, ".3f"), _fmt(r.latency_ms_p95, ".3f"), _fmt(r.throughput_per_s, ".1f"),
            _fmt(r.speedup_vs_teacher, ".2f", "x"), _fmt(r.compression_vs_teacher, ".2f", "x"),
            _fmt(r.speedup_vs_student, ".2f", "x"), format_score(r.macro_f1, r.macro_f1_ci), _fmt(r.agreement, ".4f"),
            _fmt(r.peak_rss_bytes / 1e6 if r.peak_rss_bytes else None, ".0f"), _fmt(raw.ece if raw else None, ".4f"),
            _fmt(cal.ece if cal else None, ".4f")]) + " |")
    notes = [f"- {r.variant}: {w}" for r in result.rows for w in r.notes]
    if notes:
        lines += ["", "Notes:"] + notes
    calibrated = [(r.variant, r.calibration) for r in result.rows if r.status == "ok" and r.calibration is not None]
    if calibrated:
        lines += ["", "## Calibration (test split)", "",
                  "Probabilities as predictors return them, with each model's stored temperature (fitted on validation "
                  "by its own stage; 1 where it has none), against the raw softmax. ECE: 15 equal-width bins on the top "
                  "probability; Brier summed over classes; NLL of the true class.", ""]
        lines += calibration_table(calibrated, "test")
    if result.sweep and result.sweep.get("points"):
        sw = result.sweep
        lines += ["", f"## Sweep: {sw['variant']}", "",
                  "| Threads | Batch | Seq len | ms/sample | Samples/s |", "|---:|---:|---:|---:|---:|"]
        for p in sw["points"]:
            lines.append(f"| {p['threads']} | {p['batch_size']} | {p['seq_length']} | {_fmt(p['ms_per_sample'], '.3f')} | "
                         f"{_fmt(p['samples_per_s'], '.1f')} |")
    return "\n".join(lines) + "\n"
