"""Measuring one model in a warm process: load it, check it on the test split, time rounds at batch 1.

A :class:`Measurer` holds one loaded model. :meth:`~Measurer.prepare` gives
its size, quality (the test-split logits) and throughput; then the benchmark
asks it for interleaved latency rounds (:meth:`~Measurer.latency_round`,
see :mod:`.rounds`), its peak memory and the optional sweep. Isolated, each
Measurer lives in a spawned process of its own (:class:`ProcessWorker`),
driven by commands over a pipe: plain picklable data goes in and out, and
ONNX variants run there without torch, as a deployment would.
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
ROUND_WARMUP = 2  # untimed passes at the start of each round: other variants ran in between and took the caches


def all_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


# ------------------------------------------------------------------ measuring (parent or child process)
class Measurer:
    """One loaded model and its pre-tokenized inputs."""

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.rss_before = _current_rss()
        t0 = time.perf_counter()
        self.pred = load_predictor(spec["path"], threads=spec["threads"])
        self.load_seconds = time.perf_counter() - t0
        self._restore = _set_torch_threads(spec["threads"])
        self.singles: list[dict[str, np.ndarray]] = []

    def prepare(self, send: Callable[[str, int, int], None]) -> dict[str, Any]:
        """Size, parameters, tokenization time, throughput and the test-split logits."""
        pred, spec = self.pred, self.spec
        out: dict[str, Any] = {"kind": pred.kind, "load_seconds": self.load_seconds, "label_names": pred.label_names,
                               "max_length": pred.max_length, "parameters": pred.parameter_count(),
                               "weights_bytes": pred.weights_bytes(), "folder_bytes": pred.folder_bytes(),
                               "threads": spec["threads"], "info": {k: pred.info.get(k) for k in ("variant", "role", "source", "source_identity", "temperature")}}
        if pred.kind == "torch_int8":
            out["size_bytes"] = pred.quantized_state_bytes()
            out["size_note"] = "quantized state_dict measured in memory (folder keeps fp32 safetensors, re-quantized on load)"
        else:
            out["size_bytes"] = out["weights_bytes"]
            out["size_note"] = "weight files on disk"
        out.update(self._quality_and_throughput(send))
        out["rss_delta_bytes"] = max(_current_rss() - self.rss_before, 0)
        out["torch_threads"] = _torch_threads() if isinstance(pred, TorchPredictor) else None
        out["torch_loaded"] = "torch" in sys.modules
        return out

    def _quality_and_throughput(self, send) -> dict[str, Any]:
        pred, spec = self.pred, self.spec
        latency_texts, test_texts, bs = spec["latency_texts"], spec["test_texts"], spec["batch_size"]
        send("tokenizing", 0, 1)
        t0 = time.perf_counter()
        self.singles = [pred.encode([t]) for t in latency_texts]
        tok_ms = (time.perf_counter() - t0) * 1000 / max(len(self.singles), 1)
        # The test split in order first (its logits give macro-F1/agreement, batched as in optimize's parity:
        # dynamic INT8 scales depend on the whole batch), then cycled texts up to the minimum sample count.
        batches = [pred.encode(test_texts[i:i + bs]) for i in range(0, len(test_texts), bs)]
        n_quality = len(batches)
        extra = [test_texts[i % len(test_texts)] for i in range(max(spec["min_throughput_samples"] - len(test_texts), 0))]
        batches += [pred.encode(extra[i:i + bs]) for i in range(0, len(extra), bs)]
        n_through = len(test_texts) + len(extra)
        for i in range(spec["warmup"]):
            send("warm-up", i, spec["warmup"])
            pred.forward(self.singles[i % len(self.singles)])
        if spec["warmup"]:
            pred.forward(batches[0])
        logits, total = [], 0.0
        for i, enc in enumerate(batches):
            send("throughput", i, len(batches))
            t = time.perf_counter()
            logits.append(pred.forward(enc))
            total += time.perf_counter() - t
        return {"throughput_per_s": n_through / total if total > 0 else None, "throughput_samples": n_through,
                "tokenize_ms_per_text": tok_ms, "logits": np.concatenate(logits[:n_quality])}

    def latency_round(self) -> list[float]:
        """One round: every latency text once at batch 1, in ms (after a couple of untimed passes)."""
        pred = self.pred
        for i in range(min(ROUND_WARMUP, len(self.singles))):
            pred.forward(self.singles[i])
        times = []
        for enc in self.singles:
            t = time.perf_counter()
            pred.forward(enc)
            times.append((time.perf_counter() - t) * 1000)
        return times

    def memory(self) -> dict[str, int]:
        return {"peak_rss_bytes": _peak_rss(), "rss_delta_bytes": max(_current_rss() - self.rss_before, 0)}

    def sweep(self, send) -> list[dict[str, Any]]:
        return _sweep(self.pred, self.spec, send)

    def close(self) -> None:
        self._restore()


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
    """The spawned measuring process: loads the model, then answers the parent's commands until "close"."""
    try:
        if spec.get("onnx"):
            # transformers imports torch whenever it is installed; an ONNX deployment needs only
            # onnxruntime + tokenizers, so keep torch out of this process's memory figure.
            os.environ["USE_TORCH"] = "0"
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        conn.send(("baseline_rss", _current_rss()))
        m = Measurer(spec)
        conn.send(("result", m.prepare(lambda phase, done, total: conn.send(("progress", phase, done, total)))))
        while True:
            command = conn.recv()
            if command == "round":
                conn.send(("result", m.latency_round()))
            elif command == "memory":
                conn.send(("result", m.memory()))
            elif command == "sweep":
                conn.send(("result", m.sweep(lambda phase, done, total: conn.send(("progress", phase, done, total)))))
            else:
                break
    except (EOFError, KeyboardInterrupt):
        pass
    except NTMMError as exc:
        conn.send(("error", str(exc), "", True))
    except BaseException as exc:  # report anything: the parent turns it into a failed row
        conn.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc(), False))
    finally:
        conn.close()


class LocalWorker:
    """A :class:`Measurer` in this process (``benchmark.isolate: false``)."""

    pid = None

    def __init__(self, spec: dict[str, Any], on_progress, cancel: CancelToken):
        self.spec, self.on_progress, self.cancel = spec, on_progress, cancel
        self.m: Measurer | None = None

    def _send(self, phase: str, done: int, total: int) -> None:
        self.cancel.raise_if_cancelled()
        self.on_progress(phase, done, total)

    def start(self) -> dict[str, Any]:
        self.m = Measurer(self.spec)
        return self.m.prepare(self._send)

    def latency_round(self) -> list[float]:
        return self.m.latency_round()

    def memory(self) -> dict[str, int]:
        return self.m.memory()

    def sweep(self) -> list[dict[str, Any]]:
        return self.m.sweep(self._send)

    def close(self) -> None:
        if self.m is not None:
            self.m.close()
            self.m = None


class ProcessWorker:
    """A :class:`Measurer` in a fresh spawned process, kept warm between rounds; cancel kills it."""

    def __init__(self, spec: dict[str, Any], on_progress, cancel: CancelToken):
        import multiprocessing as mp

        self.spec, self.on_progress, self.cancel = spec, on_progress, cancel
        ctx = mp.get_context("spawn")  # fork would inherit the parent's memory and thread pools
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_child_main, args=(child, spec), daemon=True, name=f"ntmm-benchmark-{spec['name']}")
        self.proc.start()
        child.close()
        self.pid = self.proc.pid
        self.baseline_rss: int | None = None

    def start(self) -> dict[str, Any]:
        out = self._wait()
        out["baseline_rss_bytes"] = self.baseline_rss
        return out

    def _call(self, command: str) -> Any:
        try:
            self.conn.send(command)
        except (BrokenPipeError, OSError):
            raise NTMMError(f"The benchmark process for {self.spec['name']} is gone (exit code {self.proc.exitcode}; out of memory?).") from None
        return self._wait()

    def latency_round(self) -> list[float]:
        return self._call("round")

    def memory(self) -> dict[str, int]:
        return self._call("memory")

    def sweep(self) -> list[dict[str, Any]]:
        return self._call("sweep")

    def _wait(self) -> Any:
        name = self.spec["name"]
        while True:
            if self.cancel.cancelled:
                raise Cancelled()
            if self.conn.poll(0.2):
                try:
                    msg = self.conn.recv()
                except EOFError:
                    self.proc.join(5)
                    raise NTMMError(f"The benchmark process for {name} stopped without a result "
                                    f"(exit code {self.proc.exitcode}; out of memory?).") from None
                if msg[0] == "progress":
                    self.on_progress(*msg[1:])
                elif msg[0] == "baseline_rss":
                    self.baseline_rss = msg[1]
                elif msg[0] == "result":
                    return msg[1]
                else:
                    _, text, details, user_error = msg
                    if user_error:
                        raise NTMMError(text)
                    raise RuntimeError(f"{text}\n{details}")
            elif not self.proc.is_alive() and not self.conn.poll(0):
                raise NTMMError(f"The benchmark process for {name} exited with code {self.proc.exitcode} "
                                "without a result (out of memory?).")

    def close(self) -> None:
        try:
            if self.proc.is_alive():
                self.conn.send("close")
                self.proc.join(5)
        except (BrokenPipeError, OSError):
            pass
        finally:
            if self.proc.is_alive():
                self.proc.terminate()
            self.proc.join(10)
            self.conn.close()


def own_cpu_seconds(pids: list[int | None]) -> float:
    """CPU seconds used so far by this process and the given worker processes (gone ones count 0)."""
    import psutil

    total = 0.0
    for pid in [None, *dict.fromkeys(p for p in pids if p is not None)]:
        try:
            t = (psutil.Process() if pid is None else psutil.Process(pid)).cpu_times()
            total += t.user + t.system
        except (psutil.Error, OSError):
            continue
    return total
