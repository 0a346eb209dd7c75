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

import math
import os
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .config import ProjectConfig
from .errors import Cancelled, ConfigError, DataError, NTMMError
from .events import BenchmarkRow, CancelToken, Evaluation, EventCallback, JobStarted, Progress
from .runfolder import atomic_write_json, atomic_write_text, environment_info
from .training import JobContext, finish_stage, job_frame

STAGE = "benchmark"
# Variant name -> folder relative to the run folder, in report order.
KNOWN_VARIANTS = {
    "teacher_fp32": "teacher/model",
    "student_fp32": "distill/student",
    "baseline_fp32": "distill/baseline",
    "student_torch_int8": "optimize/student_torch_int8",
    "student_onnx": "optimize/student_onnx",
    "student_onnx_int8": "optimize/student_onnx_int8",
}
# Short names accepted in benchmark.variants (the GUI's model list uses them).
ALIASES = {"teacher": "teacher_fp32", "student": "student_fp32", "baseline": "baseline_fp32",
           "torch_int8": "student_torch_int8", "onnx": "student_onnx", "onnx_int8": "student_onnx_int8"}
REFERENCE = "student_fp32"
TEACHER = "teacher_fp32"
TIMING_NOTE = ("model forward pass on pre-tokenized inputs (dynamic padding, truncation at the model's max_length); "
               "tokenization timed separately")


def all_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def find_variants(config: ProjectConfig) -> dict[str, Path]:
    """The variants to measure: ``benchmark.variants`` or every model present in the run folder."""
    root = config.run_path
    wanted = config.benchmark.variants
    if not wanted:
        found = {n: root / rel for n, rel in KNOWN_VARIANTS.items() if _is_model(root / rel)}
        if not found:
            raise NTMMError(f"Nothing to benchmark: no model in {root}.", hint="train a teacher and distil a student first")
        return found
    out: dict[str, Path] = {}
    for name in wanted:
        name = ALIASES.get(name, name)
        if name in KNOWN_VARIANTS:
            p = root / KNOWN_VARIANTS[name]
        else:  # a model folder or .onnx file given by path
            p = config.resolve(name)
            if not p.exists():
                raise ConfigError("benchmark.variants", f"'{name}' is neither a known variant ({', '.join(KNOWN_VARIANTS)}) nor an existing path")
            name = p.parent.name + "/" + p.name if p.is_file() else p.name
        if not _is_model(p):
            stage = KNOWN_VARIANTS.get(name, "").split("/")[0]
            raise ConfigError("benchmark.variants", f"{name}: no model at {p}",
                              hint=f"run the {stage} step first" if stage else "check the path")
        out[name] = p
    return out


def _is_onnx(p: Path) -> bool:
    from .predict import read_ntmm_json
    if p.is_file():
        return p.suffix == ".onnx"
    return str(read_ntmm_json(p).get("variant", "")).startswith("onnx") or (
        any(p.glob("*.onnx")) and not any(p.glob("*.safetensors")))


def _is_model(p: Path) -> bool:
    return (p.is_file() and p.suffix == ".onnx") or (p.is_dir() and ((p / "config.json").is_file() or any(p.glob("*.onnx"))))


# ------------------------------------------------------------------ result
@dataclass
class BenchmarkResult:
    job: str = "benchmark"
    status: str = "completed"  # completed | cancelled
    run_dir: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    sweep: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary_text(self) -> str:
        if self.status != "completed":
            return f"Benchmark {self.status} after {len(self.rows)} variant(s)."
        return markdown_report(self) + f"\nWritten to {Path(self.run_dir) / STAGE / 'benchmark.md'}"


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
             "Compression vs teacher | Speed-up vs student | macro-F1 | Agreement | Peak RSS (MB) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result.rows:
        if r.get("status") != "ok":
            lines.append(f"| {r['variant']} | {r.get('kind', '-')} | {r.get('status')}: {r.get('message', '')} |" + " |" * 10)
            continue
        lines.append("| " + " | ".join([
            r["variant"], r["kind"], _fmt(r["size_bytes"] / 1e6), _fmt(r["parameters"] / 1e6, ".2f"),
            _fmt(r["latency_ms_median"], ".3f"), _fmt(r["latency_ms_p95"], ".3f"), _fmt(r["throughput_per_s"], ".1f"),
            _fmt(r.get("speedup_vs_teacher"), ".2f", "x"), _fmt(r.get("compression_vs_teacher"), ".2f", "x"),
            _fmt(r.get("speedup_vs_student"), ".2f", "x"), _fmt(r.get("macro_f1"), ".4f"), _fmt(r.get("agreement"), ".4f"),
            _fmt(r["peak_rss_bytes"] / 1e6 if r.get("peak_rss_bytes") else None, ".0f")]) + " |")
    notes = [f"- {r['variant']}: {w}" for r in result.rows for w in r.get("notes", [])]
    if notes:
        lines += ["", "Notes:"] + notes
    if result.sweep and result.sweep.get("points"):
        sw = result.sweep
        lines += ["", f"## Sweep: {sw['variant']}", "",
                  "| Threads | Batch | Seq len | ms/sample | Samples/s |", "|---:|---:|---:|---:|---:|"]
        for p in sw["points"]:
            lines.append(f"| {p['threads']} | {p['batch_size']} | {p['seq_length']} | {_fmt(p['ms_per_sample'], '.3f')} | "
                         f"{_fmt(p['samples_per_s'], '.1f')} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ measuring (parent or child process)
def measure(spec: dict[str, Any], send: Callable[[str, int, int], None]) -> dict[str, Any]:
    """Load one model and time it; returns figures and the test-split logits.

    Runs in a fresh process when isolated (``spec`` and the result are plain
    picklable data), else in the caller's process.
    """
    from .predict import TorchPredictor, load_predictor

    rss_before = _current_rss()
    t0 = time.perf_counter()
    pred = load_predictor(spec["path"], threads=spec["threads"])
    load_seconds = time.perf_counter() - t0
    restore = _set_torch_threads(spec["threads"])
    try:
        out: dict[str, Any] = {"kind": pred.kind, "load_seconds": load_seconds, "label_names": pred.label_names,
                               "max_length": pred.max_length, "parameters": pred.parameter_count(),
                               "weights_bytes": pred.weights_bytes(), "folder_bytes": pred.folder_bytes(),
                               "threads": spec["threads"], "info": {k: pred.info.get(k) for k in ("variant", "role", "source", "source_identity")}}
        if pred.kind == "torch_int8":
            out["size_bytes"] = pred.quantized_state_bytes()
            out["size_note"] = "quantized state_dict measured in memory (folder keeps fp32 safetensors, re-quantized on load)"
        else:
            out["size_bytes"] = out["weights_bytes"]
            out["size_note"] = "weight files on disk"
        out.update(_time_model(pred, spec, send))
        # Memory before the sweep, whose large batches would otherwise inflate this variant's figure.
        out["rss_delta_bytes"] = max(_current_rss() - rss_before, 0)
        out["peak_rss_bytes"] = _peak_rss()
        if spec.get("sweep"):
            out["sweep_points"] = _sweep(pred, spec, send)
        out["torch_threads"] = _torch_threads() if isinstance(pred, TorchPredictor) else None
        out["torch_loaded"] = "torch" in sys.modules
        return out
    finally:
        restore()


def _time_model(pred, spec: dict[str, Any], send) -> dict[str, Any]:
    latency_texts, test_texts, bs = spec["latency_texts"], spec["test_texts"], spec["batch_size"]
    send("tokenizing", 0, 1)
    t0 = time.perf_counter()
    singles = [pred.encode([t]) for t in latency_texts]
    tok_ms = (time.perf_counter() - t0) * 1000 / max(len(singles), 1)
    # The test split in order first (its logits give macro-F1/agreement, batched as in optimize's parity:
    # dynamic INT8 scales depend on the whole batch), then cycled texts up to the minimum sample count.
    batches = [pred.encode(test_texts[i:i + bs]) for i in range(0, len(test_texts), bs)]
    n_quality = len(batches)
    extra = [test_texts[i % len(test_texts)] for i in range(max(spec["min_throughput_samples"] - len(test_texts), 0))]
    batches += [pred.encode(extra[i:i + bs]) for i in range(0, len(extra), bs)]
    n_through = len(test_texts) + len(extra)
    for i in range(spec["warmup"]):
        send("warm-up", i, spec["warmup"])
        pred.forward(singles[i % len(singles)])
    if spec["warmup"]:
        pred.forward(batches[0])
    times = []
    for i, enc in enumerate(singles):
        if i % 10 == 0:
            send("latency", i, len(singles))
        t = time.perf_counter()
        pred.forward(enc)
        times.append(time.perf_counter() - t)
    logits, total = [], 0.0
    for i, enc in enumerate(batches):
        send("throughput", i, len(batches))
        t = time.perf_counter()
        logits.append(pred.forward(enc))
        total += time.perf_counter() - t
    ms = np.asarray(times) * 1000
    return {"latency_ms_median": float(np.median(ms)), "latency_ms_p95": float(np.percentile(ms, 95)),
            "latency_ms_mean": float(ms.mean()), "latency_samples": len(ms),
            "throughput_per_s": n_through / total if total > 0 else None, "throughput_samples": n_through,
            "tokenize_ms_per_text": tok_ms, "logits": np.concatenate(logits[:n_quality])}


def _sweep(pred, spec: dict[str, Any], send) -> list[dict[str, Any]]:
    sw, texts = spec["sweep"], spec["test_texts"]
    cap = min(int(getattr(pred.tokenizer, "model_max_length", 512) or 512), 4096)
    points = []
    combos = [(t, b, s) for t in sw["threads"] for b in sw["batch_sizes"] for s in sw["seq_lengths"]]
    for n, (threads, batch, seq) in enumerate(combos):
        send("sweep", n, len(combos))
        pred.set_threads(threads)
        _set_torch_threads(threads)  # no restore: measure() restores the caller's setting at the end
        seq_used = min(seq, cap)
        enc = pred.encode([texts[i % len(texts)] for i in range(batch)], max_length=seq_used, pad_to_max=True)
        for _ in range(max(1, min(spec["warmup"], 3))):
            pred.forward(enc)
        reps = max(3, min(20, spec["num_samples"] // batch))
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            pred.forward(enc)
            times.append(time.perf_counter() - t)
        med = float(np.median(times))
        points.append({"threads": threads, "batch_size": batch, "seq_length": seq_used, "repeats": reps,
                       "ms_per_sample": med * 1000 / batch, "samples_per_s": batch / med if med > 0 else None})
    pred.set_threads(spec["threads"])
    return points


def _set_torch_threads(threads: int) -> Callable[[], None]:
    if "torch" not in sys.modules:
        return lambda: None
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    return lambda: torch.set_num_threads(before)


def _torch_threads() -> int | None:
    import torch
    return torch.get_num_threads()


def _current_rss() -> int:
    import psutil
    return int(psutil.Process().memory_info().rss)


def _peak_rss() -> int:
    """Peak resident set size of this process so far (bytes).

    Linux: VmHWM of /proc/self/status, not ru_maxrss, which a spawned child
    inherits from the forked copy of its parent across exec (so it would
    report the parent's size). macOS: ru_maxrss; Windows: peak working set.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS reports bytes, others KiB
    except ImportError:  # Windows
        import psutil
        mi = psutil.Process().memory_info()
        return int(getattr(mi, "peak_wset", mi.rss))


def _child_main(conn, spec: dict[str, Any]) -> None:
    """Entry point of the spawned measuring process: sends progress, then the result."""
    try:
        if spec.get("onnx"):
            # transformers imports torch whenever it is installed; an ONNX deployment needs only
            # onnxruntime + tokenizers, so keep torch out of this process's memory figure.
            os.environ["USE_TORCH"] = "0"
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        conn.send(("baseline_rss", _current_rss()))
        result = measure(spec, lambda phase, done, total: conn.send(("progress", phase, done, total)))
        conn.send(("result", result))
    except NTMMError as exc:
        conn.send(("error", str(exc), "", True))
    except BaseException as exc:  # report anything: the parent turns it into a failed row
        conn.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc(), False))
    finally:
        conn.close()


def _measure_isolated(spec: dict[str, Any], on_progress, cancel: CancelToken) -> dict[str, Any]:
    """Run :func:`measure` in a fresh spawned process and relay its progress; cancel kills it."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # fork would inherit the parent's memory and thread pools
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, args=(child, spec), daemon=True, name=f"ntmm-benchmark-{spec['name']}")
    proc.start()
    child.close()
    baseline = None
    try:
        while True:
            if cancel.cancelled:
                raise Cancelled()
            if parent.poll(0.2):
                try:
                    msg = parent.recv()
                except EOFError:
                    msg = None
                if msg is None:
                    proc.join(5)
                    raise NTMMError(f"The benchmark process for {spec['name']} stopped without a result "
                                    f"(exit code {proc.exitcode}; out of memory?).")
                if msg[0] == "progress":
                    on_progress(*msg[1:])
                elif msg[0] == "baseline_rss":
                    baseline = msg[1]
                elif msg[0] == "result":
                    msg[1]["baseline_rss_bytes"] = baseline
                    return msg[1]
                else:
                    _, text, details, user_error = msg
                    if user_error:
                        raise NTMMError(text)
                    raise RuntimeError(f"{text}\n{details}")
            elif not proc.is_alive() and not parent.poll(0):
                raise NTMMError(f"The benchmark process for {spec['name']} exited with code {proc.exitcode} "
                                "without a result (out of memory?).")
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join(10)
        parent.close()


# ------------------------------------------------------------------ job
def run_benchmark(config: ProjectConfig, on_event: EventCallback | None = None,
                  cancel: CancelToken | None = None) -> BenchmarkResult:
    """Measure every variant; returns a completed or cancelled :class:`BenchmarkResult`."""
    config.require_data()
    _check_sweep_settings(config)
    ctx = JobContext("benchmark", config, on_event, cancel, stage=STAGE)
    with job_frame(ctx):
        ctx.open_history(fresh=True)
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
        from .data import prepare_data

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
        res.rows = [_public(measured[n]) for n in variants if n in measured]  # report order
        if res.status == "completed":
            _add_ratios(res.rows)
            for row in res.rows:
                ctx.emit(BenchmarkRow(ctx.job, row=row, final=True))
            sweep_row = measured.get(sweep_name or "", {})
            if sweep_row.get("sweep_points"):
                res.sweep = {"variant": sweep_name, "points": sweep_row["sweep_points"]}
        res.wall_seconds = time.monotonic() - ctx.t0
        if res.status == "completed":
            data = res.to_dict()
            atomic_write_json(ctx.stage_dir / "benchmark.json", data)
            atomic_write_text(ctx.stage_dir / "benchmark.md", markdown_report(res))
            from .model_card import add_benchmark_section
            for row in res.rows:  # each variant's model card gets its own figures
                add_benchmark_section(row["path"], row, res.environment)
        finish_stage(ctx, res, variants=[r["variant"] for r in res.rows])
        return res

    def _measure_row(self, name: str, path: Path, spec: dict[str, Any], labels: np.ndarray, label_names: list[str],
                     measured: dict[str, dict[str, Any]]) -> dict[str, Any]:
        from .metrics import agreement, classification_metrics
        from .predict import label_order

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
        m = classification_metrics(labels, preds, label_names)
        row.update(accuracy=m["accuracy"], macro_f1=m["macro_f1"], _preds=preds)
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
        from .models import model_identity
        student = self.cfg.run_path / KNOWN_VARIANTS[REFERENCE]
        if name.startswith("student_") and name != REFERENCE and info.get("source_identity") and student.is_dir():
            if Path(info.get("source") or "") == student and info["source_identity"] != model_identity(student):
                row["notes"].append("built from an older student; re-run optimize")


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_") and k != "sweep_points"}


def _add_ratios(rows: list[dict[str, Any]]) -> None:
    """Speed-up and compression against the teacher and the fp32 student."""
    by = {r["variant"]: r for r in rows if r.get("status") == "ok"}
    for ref_name, suffix in ((TEACHER, "teacher"), (REFERENCE, "student")):
        ref = by.get(ref_name)
        for r in by.values():
            if ref is None:
                r[f"speedup_vs_{suffix}"] = r[f"throughput_ratio_vs_{suffix}"] = r[f"compression_vs_{suffix}"] = None
                continue
            r[f"speedup_vs_{suffix}"] = _ratio(ref["latency_ms_median"], r["latency_ms_median"])
            r[f"throughput_ratio_vs_{suffix}"] = _ratio(r["throughput_per_s"], ref["throughput_per_s"])
            r[f"compression_vs_{suffix}"] = _ratio(ref["size_bytes"], r["size_bytes"])


def _ratio(a: Any, b: Any) -> float | None:
    return float(a) / float(b) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None
