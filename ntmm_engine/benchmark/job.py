"""Benchmark job: every model of the run folder side by side on the real test texts.

``run_benchmark(config, on_event, cancel)`` measures, per variant (classical,
teacher, student, baseline, and the optimize variants):

* size on disk, parameter count, peak resident memory,
* throughput (samples/s) at ``throughput_batch_size`` over the whole test split
  (cycled up to at least ``num_samples`` and one full batch), whose predictions
  also give macro-F1 (with its interval) and agreement with the fp32 student,
* latency per sample at batch 1 in **interleaved rounds** (:mod:`.rounds`):
  every variant stays loaded in a warm process, and each round times all of
  them once over the same ``num_samples`` test texts, one after the other.
  The median of the round medians is the latency; speed-ups against the
  teacher and the student are paired round by round, with their spread.

The load average, the CPU frequency governor and the CPU time other programs
used are recorded; unsteady timings are repeated up to
``benchmark.time_budget_s`` and then flagged unreliable. The CPU's INT8
features are recorded (:mod:`~ntmm_engine.core.cpu`), and the budget's
recommended variant is chosen (:mod:`.budget`), unless the timings are
unreliable. Timings cover the model's forward pass on pre-tokenized inputs
(each model with its own tokenizer and max_length); tokenization is timed
separately. With ``benchmark.isolate`` (default) each variant runs in a spawned
process of its own (ONNX variants without torch loaded, as an ONNX deployment
would), whose peak memory is reported; otherwise all run in this process and the
RSS growth while loading each is reported. Results: ``benchmark.json``,
``benchmark.md`` and ``result.json`` in ``run/benchmark``.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from ..core.config import ProjectConfig
from ..core.cpu import int8_capabilities
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
from .budget import Budget, recommend
from .measure import TIMING_NOTE, LocalWorker, ProcessWorker, all_cores, own_cpu_seconds
from .report import BenchmarkResult, VariantBenchmark, markdown_report
from .rounds import analyse_rounds, run_rounds

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
        label = ""
        if "=" in name and variant_name(name) not in VARIANTS:  # NAME=FOLDER: a model folder under a name of one's own
            label, name = (x.strip() for x in name.split("=", 1))
        name = variant_name(name)
        if name in VARIANTS and not label:
            p = layout.variant_dir(name)
        else:  # a model folder or .onnx file given by path
            p = config.resolve(name)
            if not p.exists():
                raise ConfigError("benchmark.variants", f"'{name}' is neither a known variant ({', '.join(VARIANTS)}) nor an existing path")
            name = label or (p.parent.name + "/" + p.name if p.is_file() else p.name)
        if not is_model(p):
            stage = VARIANTS[name].stage if name in VARIANTS else ""
            raise ConfigError("benchmark.variants", f"{name}: no model at {p}",
                              hint=f"run the {stage} step first" if stage else "check the path")
        out[name] = p
    return out


def _is_onnx(p: Path) -> bool:
    """True for a model that runs on ONNX Runtime alone (its benchmark process then imports no torch)."""
    if p.is_file():
        return p.suffix == ".onnx"
    variant = str(read_ntmm_json(p).get("variant", ""))
    return variant.startswith("onnx") or variant == "static" or (any(p.glob("*.onnx")) and not (p / "config.json").is_file()) or (
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
        self.result = BenchmarkResult(run_dir=str(ctx.run.root), environment=environment_info(), cpu=int8_capabilities(), settings={
            "threads": self.threads, "warmup": self.b.warmup, "num_samples": self.b.num_samples, "rounds": self.b.rounds,
            "time_budget_s": self.b.time_budget_s, "max_spread": self.b.max_spread,
            "throughput_batch_size": self.b.throughput_batch_size, "isolate": iso, "timing": TIMING_NOTE,
            "memory_method": ("peak resident memory (VmHWM / ru_maxrss) of the variant's own spawned process, including the Python "
                              "runtime and its libraries (ONNX variants run without torch, as an ONNX deployment would)"
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
                + (", each in a warm process of its own" if self.b.isolate else "") + f"; CPU: {res.cpu['summary']}")
        if res.cpu.get("warning"):
            ctx.log(f"Note: {res.cpu['warning']}", level="warning")
        measured: dict[str, dict[str, Any]] = {}
        workers: dict[str, Any] = {}
        try:
            # 1. load every variant, check it on the test split, measure its throughput; keep it warm
            for i, name in enumerate(order):
                ctx.cancel.raise_if_cancelled()
                ctx.emit(Progress(ctx.job, phase=f"loading {name}", done=i, total=len(order)))
                spec = {"name": name, "path": str(variants[name]), "onnx": _is_onnx(variants[name]),
                        "threads": self.threads, "warmup": self.b.warmup,
                        "num_samples": self.b.num_samples, "latency_texts": latency_texts, "test_texts": texts,
                        "batch_size": self.b.throughput_batch_size,
                        "min_throughput_samples": max(n_lat, self.b.throughput_batch_size),
                        "sweep": ({"threads": list(dict.fromkeys(t or all_cores() for t in self.b.sweep_threads)),
                                   "batch_sizes": list(self.b.sweep_batch_sizes), "seq_lengths": list(self.b.sweep_seq_lengths)}
                                  if name == sweep_name else None)}
                row, worker = self._start(name, variants[name], spec, labels, prepared.label_names, measured)
                measured[name] = row
                if worker is not None:
                    workers[name] = worker
                ctx.emit(BenchmarkRow(ctx.job, row=_public(row)))
            # 2. interleaved latency rounds
            if workers:
                analysis = self._rounds(workers, measured)
                res.rounds = analysis
                res.reliable, res.unreliable_reason = analysis.reliable, analysis.message
                if not analysis.reliable:
                    ctx.log(analysis.message, level="warning")
            # 3. peak memory, then the sweep (whose large batches would inflate it)
            for name, w in workers.items():
                self._finish(name, w, measured[name], sweep_name)
        except Cancelled:
            res.status = "cancelled"
            ctx.log(f"Cancelled after {len(measured)} variant(s)")
        finally:
            for w in workers.values():
                w.close()
        res.rows = [VariantBenchmark.from_dict(_public(measured[n])) for n in variants if n in measured]  # report order
        if res.status == "completed":
            _add_ratios(res.rows, res.rounds)
            res.budget = Budget.from_config(self.b)
            res.recommendation = recommend(res.rows, res.budget, unreliable=res.unreliable_reason)
            ctx.log(f"Recommended: {res.recommendation.reason}")
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

    def _start(self, name: str, path: Path, spec: dict[str, Any], labels: np.ndarray, label_names: list[str],
               measured: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], Any]:
        """Load one variant in its worker and check it on the test split; the row and the warm worker (None if it failed)."""
        ctx = self.ctx
        row: dict[str, Any] = {"variant": name, "path": str(path), "status": "ok", "notes": []}
        progress = lambda *a: ctx.emit(Progress(ctx.job, phase=f"{name}: {a[0]}", done=a[1], total=a[2]))  # noqa: E731
        worker = None
        try:
            if self.b.isolate:
                worker = ProcessWorker(spec, progress, ctx.cancel)
            else:
                import onnxruntime  # noqa: F401  imported first, so the RSS growth is the model's, not the libraries'
                from transformers import AutoModelForSequenceClassification  # noqa: F401
                worker = LocalWorker(spec, progress, ctx.cancel)
            out = worker.start()
            row["baseline_rss_bytes"] = out.pop("baseline_rss_bytes", None)
            row["memory_method"] = "peak_rss_fresh_process" if self.b.isolate else "rss_delta"
        except Cancelled:
            if worker is not None:
                worker.close()
            raise
        except Exception as exc:  # one broken variant must not lose the others
            if worker is not None:
                worker.close()
            if isinstance(exc, NTMMError):
                ctx.log(f"{name}: {exc}", level="error")
                return {**row, "status": "failed", "message": str(exc)}, None
            ctx.log(f"{name} failed: {type(exc).__name__}: {exc}\n{traceback.format_exc()}", level="error")
            return {**row, "status": "failed", "message": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}, None
        logits = out.pop("logits")
        row.update({k: v for k, v in out.items() if k not in ("label_names", "info")})
        if not self.b.isolate:
            row["peak_rss_bytes"] = out["rss_delta_bytes"]
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
        ctx.log(f"{name}: {row['throughput_per_s']:.1f} samples/s at batch {spec['batch_size']}, {row['size_bytes'] / 1e6:.2f} MB, "
                f"macro-F1 {row['macro_f1']:.4f}")
        return row, worker

    def _rounds(self, workers: dict[str, Any], measured: dict[str, dict[str, Any]]):
        ctx, b = self.ctx, self.b
        n = len(workers)

        def on_round(r: int, name: str, eta: float | None) -> None:
            extra = "" if r <= b.rounds else " (unsteady timings: repeating)"
            ctx.emit(Progress(ctx.job, phase=f"round {r}: {name}{extra}", done=min(r - 1, b.rounds) * n + list(workers).index(name),
                              total=b.rounds * n, eta_seconds=eta, message=f"round {r} of at least {b.rounds}"))

        def on_failed(name: str, exc: Exception) -> None:
            ctx.log(f"{name} failed during the rounds: {exc}", level="error")
            measured[name].update(status="failed", message=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

        refs = [r for r in (TEACHER, REFERENCE) if r in workers]
        analysis = run_rounds(dict(workers), min_rounds=b.rounds, time_budget_s=b.time_budget_s, cancel=ctx.cancel,
                              on_round=on_round, on_failed=on_failed, own_cpu=lambda: own_cpu_seconds([w.pid for w in workers.values()]),
                              analyse=lambda samples, **kw: analyse_rounds(samples, references=refs, max_spread=b.max_spread,
                                                                           cores=all_cores(), **kw))
        for name, t in analysis.timings.items():
            row = measured[name]
            if row["status"] != "ok" or t.median_ms is None:
                continue
            row.update(latency_ms_median=t.median_ms, latency_ms_p95=t.p95_ms, latency_ms_mean=t.mean_ms, latency_samples=t.samples,
                       latency_rounds=len(t.round_medians_ms), latency_round_medians_ms=t.round_medians_ms, latency_spread=t.spread)
            ctx.emit(Evaluation(ctx.job, split=f"benchmark_{name}", metrics={k: row.get(k) for k in (
                "accuracy", "macro_f1", "agreement", "latency_ms_median", "latency_ms_p95", "throughput_per_s", "size_bytes")}))
            ctx.log(f"{name}: {t.median_ms:.3f} ms/sample at batch 1 (median of {len(t.round_medians_ms)} rounds, "
                    f"spread {t.spread or 0:.0%}; p95 {t.p95_ms:.3f})")
        return analysis

    def _finish(self, name: str, worker: Any, row: dict[str, Any], sweep_name: str | None) -> None:
        if row["status"] != "ok":
            return
        try:
            mem = worker.memory()
            if self.b.isolate:
                row["peak_rss_bytes"] = mem["peak_rss_bytes"]
            if name == sweep_name:
                row["sweep_points"] = worker.sweep()
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001
            self.ctx.log(f"{name}: {exc}", level="error")
            row["notes"].append(f"memory or sweep failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")

    def _stale_check(self, name: str, info: dict[str, Any], row: dict[str, Any]) -> None:
        """Flag optimize variants built from another student than the one in the run folder."""
        student = self.ctx.layout.student_model
        if name.startswith("student_") and name != REFERENCE and info.get("source_identity") and student.is_dir():
            if Path(info.get("source") or "") == student and info["source_identity"] != model_identity(student):
                row["notes"].append("built from an older student; re-run optimize")


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_") and k != "sweep_points"}


def _add_ratios(rows: list[VariantBenchmark], rounds=None) -> None:
    """Speed-up and compression against the teacher and the fp32 student.

    Speed-ups are paired round by round when ``rounds`` (a :class:`~.rounds.RoundsAnalysis`) has them;
    without rounds they are ratios of the medians.
    """
    by = {r.variant: r for r in rows if r.status == "ok"}
    for ref_name, suffix in ((TEACHER, "teacher"), (REFERENCE, "student")):
        ref = by.get(ref_name)
        if ref is None:
            continue
        paired = rounds.ratios.get(ref_name, {}) if rounds is not None else {}
        for r in by.values():
            pr = paired.get(r.variant)
            if pr is not None and pr.median is not None:
                setattr(r, f"speedup_vs_{suffix}", pr.median)
                setattr(r, f"speedup_vs_{suffix}_range", [pr.low, pr.high])
                setattr(r, f"speedup_vs_{suffix}_spread", pr.spread)
            else:
                setattr(r, f"speedup_vs_{suffix}", _ratio(ref.latency_ms_median, r.latency_ms_median))
            setattr(r, f"throughput_ratio_vs_{suffix}", _ratio(r.throughput_per_s, ref.throughput_per_s))
            setattr(r, f"compression_vs_{suffix}", _ratio(ref.size_bytes, r.size_bytes))


def _ratio(a: Any, b: Any) -> float | None:
    return float(a) / float(b) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None
