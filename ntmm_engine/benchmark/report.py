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
from .budget import Budget, Recommendation
from .measure import TIMING_NOTE
from .rounds import RoundsAnalysis


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
    latency_rounds: int | None = None
    latency_round_medians_ms: list[float] = field(default_factory=list)
    latency_spread: float | None = None  # interquartile range of the round medians / their median
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
    # ratios (filled once the teacher and the fp32 student are measured); speed-ups paired round by round
    speedup_vs_teacher: float | None = None
    speedup_vs_teacher_range: list[float] = field(default_factory=list)  # smallest and largest round's ratio
    speedup_vs_teacher_spread: float | None = None
    throughput_ratio_vs_teacher: float | None = None
    compression_vs_teacher: float | None = None
    speedup_vs_student: float | None = None
    speedup_vs_student_range: list[float] = field(default_factory=list)
    speedup_vs_student_spread: float | None = None
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
    cpu: dict[str, Any] = field(default_factory=dict)  # INT8 capabilities (core.cpu.int8_capabilities)
    rounds: RoundsAnalysis | None = None
    reliable: bool = True
    unreliable_reason: str = ""  # "timings unreliable: ...; close other programs and run again"
    budget: Budget | None = None
    recommendation: Recommendation | None = None  # under the budget of the run (RunState.recommendation: the current one)
    wall_seconds: float = 0.0

    def row(self, variant: str) -> VariantBenchmark | None:
        return next((r for r in self.rows if r.variant == variant), None)

    def summary_text(self) -> str:
        if self.status != "completed":
            return f"Benchmark {self.status} after {len(self.rows)} variant(s)."
        tail = [f"Written to {RunLayout(self.run_dir).benchmark_md}"]
        if not self.reliable:
            tail.insert(0, "WARNING: " + self.unreliable_reason)
        return markdown_report(self) + "\n" + "\n".join(tail)


def _fmt(x: Any, spec: str = ".2f", suffix: str = "") -> str:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:{spec}}{suffix}"


def _speedup(r: VariantBenchmark) -> str:
    text = _fmt(r.speedup_vs_teacher, ".2f", "x")
    if len(r.speedup_vs_teacher_range) == 2 and all(isinstance(x, (int, float)) for x in r.speedup_vs_teacher_range):
        lo, hi = r.speedup_vs_teacher_range
        text += f" ({lo:.2f}–{hi:.2f})"
    return text


def _rounds_lines(result: BenchmarkResult) -> list[str]:
    a = result.rounds
    if a is None:
        return []
    b, e = a.machine_before, a.machine_after
    load = f"load average {b.get('load_1min', '?')} before, {e.get('load_1min', '?')} after on {a.cores} cores"
    gov = ", ".join(b.get("governors") or []) or "unknown"
    other = f"; other programs used {a.other_cpu_share:.0%} of the CPU meanwhile" if a.other_cpu_share is not None else ""
    where = "its own process" if result.settings.get("isolate", True) else "this process"
    return [f"Rounds: {a.rounds} interleaved rounds in {a.seconds:.0f} s (every variant warm in {where}, timed in turn); "
            f"speed-ups are paired round by round. Machine: {load}{other}; CPU frequency governor: {gov}."]


def markdown_report(result: BenchmarkResult) -> str:
    env, s = result.environment, result.settings
    lines = ["# NTMM benchmark", "",
             f"Machine: {env.get('cpu', '?')}, {env.get('cpu_count', '?')} logical cores"
             + (f", GPU {env['gpu']}" if env.get("gpu") else "") + f"; {s.get('threads')} thread(s); "
             + ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items() if k in ("torch", "onnxruntime", "transformers")),
             f"Latency: batch 1 over {s.get('latency_samples')} test texts per round after {s.get('warmup')} warm-up run(s). "
             f"Throughput: batch {s.get('throughput_batch_size')} over {s.get('throughput_samples')} texts. "
             f"Timing covers the {TIMING_NOTE}.",
             f"Peak memory: {s.get('memory_method')}."]
    lines += _rounds_lines(result)
    if result.cpu:
        lines.append(f"CPU INT8: {result.cpu.get('summary')}" + (f". Note: {result.cpu['warning']}." if result.cpu.get("warning") else "."))
    if not result.reliable:
        lines += ["", f"**{result.unreliable_reason[:1].upper() + result.unreliable_reason[1:]}.** The figures below are "
                      "not fit to publish, and no variant is recommended."]
    lines += ["",
              "| Variant | Kind | Size (MB) | Params (M) | Median ms | p95 ms | Round spread | Samples/s | Speed-up vs teacher "
              "(rounds' range) | Compression vs teacher | Speed-up vs student | macro-F1 | Agreement | Peak RSS (MB) | ECE raw | ECE calibrated |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result.rows:
        if r.status != "ok":
            lines.append(f"| {r.variant} | {r.kind or '-'} | {r.status}: {r.message} |" + " |" * 13)
            continue
        rec = result.recommendation is not None and result.recommendation.variant == r.variant
        raw, cal = (r.calibration.scores("test", False), r.calibration.scores("test", True)) if r.calibration else (None, None)
        lines.append("| " + " | ".join([
            f"**{r.variant}** (recommended)" if rec else r.variant, r.kind,
            _fmt(r.size_bytes / 1e6 if r.size_bytes else None), _fmt(r.parameters / 1e6 if r.parameters else None),
            _fmt(r.latency_ms_median, ".3f"), _fmt(r.latency_ms_p95, ".3f"), _fmt(r.latency_spread, ".0%"),
            _fmt(r.throughput_per_s, ".1f"), _speedup(r), _fmt(r.compression_vs_teacher, ".2f", "x"),
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
    if result.recommendation is not None:
        lines += ["", f"Budget: {result.recommendation.budget.text()}. "
                      + (f"Recommended: {result.recommendation.reason}" if result.recommendation.variant else result.recommendation.reason)]
    if result.sweep and result.sweep.get("points"):
        sw = result.sweep
        lines += ["", f"## Sweep: {sw['variant']}", "",
                  "| Threads | Batch | Seq len | ms/sample | Samples/s |", "|---:|---:|---:|---:|---:|"]
        for p in sw["points"]:
            lines.append(f"| {p['threads']} | {p['batch_size']} | {p['seq_length']} | {_fmt(p['ms_per_sample'], '.3f')} | "
                         f"{_fmt(p['samples_per_s'], '.1f')} |")
    return "\n".join(lines) + "\n"
