"""Benchmark job: every model of the run folder side by side on the real test texts.

``run_benchmark(config, on_event, cancel)`` measures, per variant (teacher,
student, baseline, and the optimize variants):

* latency per sample at batch 1 (median, p95) over ``num_samples`` test texts,
* throughput (samples/s) at ``throughput_batch_size`` over the whole test split
  (cycled up to at least ``num_samples`` and one full batch), whose predictions
  also give macro-F1 and agreement with the fp32 student,
* peak resident memory, size on disk, parameter count, ratios to the teacher
  and to the fp32 student.

Timings cover the model's forward pass on pre-tokenized inputs (each model
with its own tokenizer and max_length); tokenization is timed separately.
With ``benchmark.isolate`` (default) each variant runs in a fresh spawned
process whose peak resident memory is reported (ONNX variants without torch
loaded, as an ONNX deployment would run); otherwise the RSS growth while
loading and running it in this process is reported. Results: ``benchmark.json``,
``benchmark.md`` and ``result.json`` in ``run/benchmark``.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from ..core.config import ProjectConfig
from ..core.environment import environment_info
from ..core.errors import Cancelled, ConfigError, DataError, NTMMError
from ..core.events import BenchmarkRow, CancelToken, Evaluation, EventCallback, JobStarted, Progress
from ..core.jobframe import JobContext, finish_stage, job_frame
from ..core.layout import REFERENCE, TEACHER, VARIANTS, RunLayout, is_model, variant_name
from ..core.models import model_identity
from ..core.runfolder import atomic_write_json, atomic_write_text
from ..data.prepare import prepare_data
from ..inference.predictors import label_order, read_ntmm_json
from ..reports.calibration import calibrate, valid_temperature
from ..reports.metrics import agreement, classification_metrics
from ..reports.model_card import add_benchmark_section
from .measure import TIMING_NOTE, _measure_isolated, all_cores, measure
from .report import BenchmarkResult, VariantBenchmark, markdown_report

STAGE = "benchmark"


def find_variants(config: ProjectConfig) -> dict[str, Path]:
    """The variants to measure: ``benchmark.variants`` or every model present in the run folder."""
    layout = RunLayout(config.run_path)
    wanted = config.benchmark.variants
    if not wanted:
        found = layout.models()
        if not found:
            raise NTMMError(f"Nothing to benchmark: no model in {layout.root}.", hint="train a teacher and distil a student first")
        return found
    out: dict[str, Path] = {}
    for name in wanted:
        name = variant_name(name)
        if name in VARIANTS:
            p = layout.variant_dir(name)
        else:  # a model folder or .onnx file given by path
            p = config.resolve(name)
            if not p.exists():
                raise ConfigError("benchmark.variants", f"'{name}' is neither a known variant ({', '.join(VARIANTS)}) nor an existing path")
            name = p.parent.name + "/" + p.name if p.is_file() else p.name
        if not is_model(p):
            stage = VARIANTS[name].stage if name in VARIANTS else ""
            raise ConfigError("benchmark.variants", f"{name}: no model at {p}",
                              hint=f"run the {stage} step first" if stage else "check the path")
        out[name] = p
    return out


def _is_onnx(p: Path) -> bool:
    if p.is_file():
        return p.suffix == ".onnx"
    return str(read_ntmm_json(p).get("variant", "")).startswith("onnx") or (
        any(p.glob("*.onnx")) and not any(p.glob("*.safetensors")))


# ------------------------------------------------------------------ job
def run_benchmark(config: ProjectConfig, on_event: EventCallback | None = None,
                  cancel: CancelToken | None = None) -> BenchmarkResult:
    """Measure every variant; returns a completed or cancelled :class:`BenchmarkResult`."""
    config.require_data()
    _check_sweep_settings(config)
    ctx = JobContext("benchmark", config, on_event, cancel, stage=STAGE)
    with job_frame(ctx):
        return _Benchmark(ctx).run()


def _check_sweep_settings(config: ProjectConfig) -> None:
    b = config.benchmark
    for name, values, lo in (("sweep_threads", b.sweep_threads, 0), ("sweep_batch_sizes", b.sweep_batch_sizes, 1),
                             ("sweep_seq_lengths", b.sweep_seq_lengths, 8)):
        if b.sweep and not values:
            raise ConfigError(f"benchmark.{name}", "is empty, but benchmark.sweep is on")
        bad = [v for v in values if v < lo or v > 8192]
        if bad:
            raise ConfigError(f"benchmark.{name}", f"value(s) {bad} out of range; allowed [{lo}, 8192]")


class _Benchmark:
    def __init__(self, ctx: JobContext):
        self.ctx, self.cfg, self.b = ctx, ctx.config, ctx.config.benchmark
        self.threads = self.b.threads or all_cores()
        iso = self.b.isolate
        self.result = BenchmarkResult(run_dir=str(ctx.run.root), environment=environment_info(), settings={
            "threads": self.threads, "warmup": self.b.warmup, "num_samples": self.b.num_samples,
            "throughput_batch_size": self.b.throughput_batch_size, "isolate": iso, "timing": TIMING_NOTE,
            "memory_method": ("peak resident memory (VmHWM / ru_maxrss) of a fresh spawned process per variant, including the Python runtime and its "
                              "libraries (ONNX variants run without torch, as an ONNX deployment would)"
                              if iso else "RSS growth of this process while loading and running the variant (psutil)")})

    def run(self) -> BenchmarkResult:
        ctx, res = self.ctx, self.result
        variants = find_variants(self.cfg)
        # The fp32 student first: every later row's agreement is measured against it.
        order = sorted(variants, key=lambda n: (n != REFERENCE, n != TEACHER))
        sweep_name = self.b.sweep_variant if self.b.sweep else None
        if sweep_name and sweep_name not in variants:
            raise ConfigError("benchmark.sweep_variant", f"'{sweep_name}' is not among the variants measured ({', '.join(variants)})")
        ctx.emit(JobStarted(ctx.job, total_steps=len(order), device="cpu", precision="mixed", run_dir=str(ctx.run.root)))
        ctx.emit(Progress(ctx.job, phase="loading data", done=0, total=len(order)))
        prepared = prepare_data(self.cfg.data, seed=self.cfg.seed, base_dir=self.cfg.base_dir)
        test = prepared.splits["test"] if "test" in prepared.splits else None
        if test is None or len(test) == 0:
            raise DataError("The test split is empty: the benchmark needs real test texts.", hint="set data.test or data.test_ratio")
        texts, labels = list(test["text"]), np.asarray(test["label"], dtype=np.int64)
        ctx.begin_replacing()  # the models and the data are found: the previous figures are replaced from here
        n_lat = self.b.num_samples
        latency_texts = [texts[i % len(texts)] for i in range(n_lat)]
        res.settings.update(latency_samples=n_lat, test_examples=len(texts),
                            throughput_samples=max(len(texts), n_lat, self.b.throughput_batch_size),
                            latency_texts_cycled=n_lat > len(texts))
        ctx.log(f"Benchmarking {', '.join(order)} on {len(texts)} test texts with {self.threads} thread(s)"
                + (" (each in a fresh process)" if self.b.isolate else ""))
        measured: dict[str, dict[str, Any]] = {}
        try:
            for i, name in enumerate(order):
                ctx.cancel.raise_if_cancelled()
                ctx.emit(Progress(ctx.job, phase=f"measuring {name}", done=i, total=len(order)))
                spec = {"name": name, "path": str(variants[name]), "onnx": _is_onnx(variants[name]),
                        "threads": self.threads, "warmup": self.b.warmup,
                        "num_samples": self.b.num_samples, "latency_texts": latency_texts, "test_texts": texts,
                        "batch_size": self.b.throughput_batch_size,
                        "min_throughput_samples": max(n_lat, self.b.throughput_batch_size),
                        "sweep": ({"threads": list(dict.fromkeys(t or all_cores() for t in self.b.sweep_threads)),
                                   "batch_sizes": list(self.b.sweep_batch_sizes), "seq_lengths": list(self.b.sweep_seq_lengths)}
                                  if name == sweep_name else None)}
                row = self._measure_row(name, variants[name], spec, labels, prepared.label_names, measured)
                measured[name] = row
                ctx.emit(BenchmarkRow(ctx.job, row=_public(row)))
        except Cancelled:
            res.status = "cancelled"
            ctx.log(f"Cancelled after {len(measured)} variant(s)")
        res.rows = [VariantBenchmark.from_dict(_public(measured[n])) for n in variants if n in measured]  # report order
        if res.status == "completed":
            _add_ratios(res.rows)
            for row in res.rows:
                ctx.emit(BenchmarkRow(ctx.job, row=row.to_dict(), final=True))
            sweep_row = measured.get(sweep_name or "", {})
            if sweep_row.get("sweep_points"):
                res.sweep = {"variant": sweep_name, "points": sweep_row["sweep_points"]}
        res.wall_seconds = time.monotonic() - ctx.t0
        if res.status == "completed":
            atomic_write_json(ctx.layout.benchmark_json, res.to_dict())
            atomic_write_text(ctx.layout.benchmark_md, markdown_report(res))
            for row in res.rows:  # each variant's model card gets its own figures
                add_benchmark_section(row.path, row.to_dict(), res.environment)
        finish_stage(ctx, res, variants=[r.variant for r in res.rows])
        return res

    def _measure_row(self, name: str, path: Path, spec: dict[str, Any], labels: np.ndarray, label_names: list[str],
                     measured: dict[str, dict[str, Any]]) -> dict[str, Any]:
        ctx = self.ctx
        row: dict[str, Any] = {"variant": name, "path": str(path), "status": "ok", "notes": []}

        def progress(phase: str, done: int, total: int) -> None:
            ctx.cancel.raise_if_cancelled()
            ctx.emit(Progress(ctx.job, phase=f"{name}: {phase}", done=done, total=total))

        try:
            if self.b.isolate:
                out = _measure_isolated(spec, lambda *a: ctx.emit(Progress(ctx.job, phase=f"{name}: {a[0]}", done=a[1], total=a[2])),
                                        ctx.cancel)
                row["peak_rss_bytes"] = out["peak_rss_bytes"]
                row["baseline_rss_bytes"] = out.get("baseline_rss_bytes")
            else:
                import onnxruntime  # noqa: F401  imported first, so the RSS growth is the model's, not the libraries'
                from transformers import AutoModelForSequenceClassification  # noqa: F401
                out = measure(spec, progress)
                row["peak_rss_bytes"] = out["rss_delta_bytes"]
            row["memory_method"] = "peak_rss_fresh_process" if self.b.isolate else "rss_delta"
        except Cancelled:
            raise
        except NTMMError as exc:
            ctx.log(f"{name}: {exc}", level="error")
            return {**row, "status": "failed", "message": str(exc)}
        except Exception as exc:  # one broken variant must not lose the others
            ctx.log(f"{name} failed: {type(exc).__name__}: {exc}\n{traceback.format_exc()}", level="error")
            return {**row, "status": "failed", "message": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}
        logits = out.pop("logits")
        row.update({k: v for k, v in out.items() if k not in ("label_names", "info")})
        order = label_order(out["label_names"], label_names, model=name)
        preds = logits[:, order].argmax(-1)
        m = classification_metrics(labels, preds, label_names, intervals=True)
        row.update(accuracy=m["accuracy"], macro_f1=m["macro_f1"], accuracy_ci=m["accuracy_ci"], macro_f1_ci=m["macro_f1_ci"],
                   _preds=preds)
        # ECE/Brier/NLL of what users get: the probabilities with the model's stored temperature (none: 1), and without it
        stored = out["info"].get("temperature")
        row["calibration"] = calibrate({"test": (logits[:, order], labels)}, fit_on="test",
                                       temperature=valid_temperature(stored)).to_dict()
        if stored is None:
            row["calibration"]["fitted_on"] = "none"
        ref = measured.get(REFERENCE)
        row["agreement"] = agreement(ref["_preds"], preds) if ref is not None and "_preds" in ref else (1.0 if name == REFERENCE else None)
        self._stale_check(name, out["info"], row)
        ctx.emit(Evaluation(ctx.job, split=f"benchmark_{name}", metrics={k: row.get(k) for k in (
            "accuracy", "macro_f1", "agreement", "latency_ms_median", "latency_ms_p95", "throughput_per_s", "size_bytes", "peak_rss_bytes")}))
        ctx.log(f"{name}: {row['latency_ms_median']:.2f} ms/sample (p95 {row['latency_ms_p95']:.2f}), "
                f"{row['throughput_per_s']:.1f} samples/s at batch {spec['batch_size']}, {row['size_bytes'] / 1e6:.2f} MB, "
                f"macro-F1 {row['macro_f1']:.4f}")
        return row

    def _stale_check(self, name: str, info: dict[str, Any], row: dict[str, Any]) -> None:
        """Flag optimize variants built from another student than the one in the run folder."""
        student = self.ctx.layout.student_model
        if name.startswith("student_") and name != REFERENCE and info.get("source_identity") and student.is_dir():
            if Path(info.get("source") or "") == student and info["source_identity"] != model_identity(student):
                row["notes"].append("built from an older student; re-run optimize")


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_") and k != "sweep_points"}


def _add_ratios(rows: list[VariantBenchmark]) -> None:
    """Speed-up and compression against the teacher and the fp32 student."""
    by = {r.variant: r for r in rows if r.status == "ok"}
    for ref_name, suffix in ((TEACHER, "teacher"), (REFERENCE, "student")):
        ref = by.get(ref_name)
        for r in by.values():
            if ref is None:
                continue
            setattr(r, f"speedup_vs_{suffix}", _ratio(ref.latency_ms_median, r.latency_ms_median))
            setattr(r, f"throughput_ratio_vs_{suffix}", _ratio(r.throughput_per_s, ref.throughput_per_s))
            setattr(r, f"compression_vs_{suffix}", _ratio(ref.size_bytes, r.size_bytes))


def _ratio(a: Any, b: Any) -> float | None:
    return float(a) / float(b) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None
