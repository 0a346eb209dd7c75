"""Measuring one model: load it, time it at batch 1 and in batches, read its peak memory.

:func:`measure` runs in the benchmark's process or, isolated, in a fresh
spawned one (:func:`_measure_isolated`): plain picklable data goes in and
out, and ONNX variants run there without torch, as a deployment would.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..core.errors import Cancelled, NTMMError
from ..core.events import CancelToken
from ..inference.predictors import TorchPredictor, load_predictor

TIMING_NOTE = ("model forward pass on pre-tokenized inputs (dynamic padding, truncation at the model's max_length); "
               "tokenization timed separately")


def all_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


# ------------------------------------------------------------------ measuring (parent or child process)
def measure(spec: dict[str, Any], send: Callable[[str, int, int], None]) -> dict[str, Any]:
    """Load one model and time it; returns figures and the test-split logits.

    Runs in a fresh process when isolated (``spec`` and the result are plain
    picklable data), else in the caller's process.
    """
    rss_before = _current_rss()
    t0 = time.perf_counter()
    pred = load_predictor(spec["path"], threads=spec["threads"])
    load_seconds = time.perf_counter() - t0
    restore = _set_torch_threads(spec["threads"])
    try:
        out: dict[str, Any] = {"kind": pred.kind, "load_seconds": load_seconds, "label_names": pred.label_names,
                               "max_length": pred.max_length, "parameters": pred.parameter_count(),
                               "weights_bytes": pred.weights_bytes(), "folder_bytes": pred.folder_bytes(),
                               "threads": spec["threads"], "info": {k: pred.info.get(k) for k in ("variant", "role", "source", "source_identity", "temperature")}}
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
