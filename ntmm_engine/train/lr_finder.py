"""Learning-rate range test: ``find_lr(config)`` suggests a peak learning rate for the teacher.

A fresh in-memory copy of the teacher's base model (with the data's label
map) is trained for a bounded number of AdamW steps while the learning rate
grows exponentially from ``start_lr`` to ``end_lr`` (Smith, "Cyclical
Learning Rates for Training Neural Networks", 2017). The loss is smoothed
with a bias-corrected exponential moving average; the test stops once the
smoothed loss exceeds ``diverge`` times its best value. The suggestion is
the learning rate where the smoothed loss falls fastest against log(LR).
Nothing is saved except ``<run>/lr_find/lr_find.json``: the model on disk
and any model passed in are never changed.

The loop is hand-written: the Trainer's schedulers and logging are built
for full runs (rounded, averaged logs; checkpoints), while a range test
needs the raw per-step loss and an immediate stop on divergence.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..core.config import ProjectConfig
from ..core.errors import Cancelled, ConfigError, NTMMError
from ..core.events import (
    CancelToken,
    EventCallback,
    JobFailed,
    JobFinished,
    LogMessage,
    Progress,
    ProgressReporter,
    TrainLog,
    ignore_event,
)
from ..core.layout import RunLayout
from ..core.models import load_classifier, load_tokenizer, resolve_model_source
from ..core.results import Record
from ..core.runfolder import atomic_write_json, read_json
from ..data.augment import augment_split
from ..data.prepare import prepare_data, tokenize
from .recipe import choose_device, choose_precision

JOB = "lr_find"


PHASE = "lr range test"


@dataclass
class LRFinderResult(Record):
    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float | None
    stopped_reason: str
    min_loss_lr: float | None = None  # LR at the lowest smoothed loss (the suggestion is usually ~10x below it)
    steps: int = 0
    wall_seconds: float = 0.0
    device: str = "cpu"
    base_model: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    def curve_rows(self, rows: int = 15) -> list[tuple[float, float, float, bool]]:
        """About ``rows`` evenly spaced points (lr, loss, smoothed, is_suggestion), suggestion included."""
        n = len(self.lrs)
        if n == 0:
            return []
        idx = sorted({round(i * (n - 1) / max(rows - 1, 1)) for i in range(min(rows, n))})
        if self.suggestion is not None and self.suggestion in self.lrs:
            idx = sorted(set(idx) | {self.lrs.index(self.suggestion)})
        return [(self.lrs[i], self.losses[i], self.smoothed[i], self.lrs[i] == self.suggestion) for i in idx]

    def summary_text(self, rows: int = 15) -> str:
        head = (f"Suggested learning rate: {self.suggestion:.2e}" if self.suggestion is not None
                else "No learning rate suggested (too few points; widen the range or add steps)")
        lines = [head, f"Stopped: {self.stopped_reason} after {self.steps} steps on {self.device}."]
        if self.min_loss_lr is not None:
            lines.append(f"Lowest smoothed loss at {self.min_loss_lr:.2e}.")
        lines.append(f"{'learning rate':>14}  {'loss':>9}  {'smoothed':>9}")
        for lr, loss, sm, mark in self.curve_rows(rows):
            lines.append(f"{lr:>14.2e}  {loss:>9.4f}  {sm:>9.4f}" + ("  <- suggested" if mark else ""))
        if self.path:
            lines.append(f"Curve saved to {self.path}")
        return "\n".join(lines)


def lr_find_path(config: ProjectConfig) -> Path:
    return RunLayout(config.run_path).lr_find_file


def read_lr_curve(config: ProjectConfig) -> LRFinderResult | None:
    """The project's last saved range test, or None."""
    try:
        return LRFinderResult.from_dict(read_json(lr_find_path(config)))
    except (OSError, ValueError, TypeError):
        return None


def lr_schedule(start_lr: float, end_lr: float, num_steps: int) -> list[float]:
    """Exponentially spaced learning rates from start_lr to end_lr inclusive."""
    if num_steps == 1:
        return [start_lr]
    return [start_lr * (end_lr / start_lr) ** (k / (num_steps - 1)) for k in range(num_steps)]


def smooth_losses(losses: Sequence[float], beta: float) -> list[float]:
    """Bias-corrected exponential moving average (as in Adam's moment estimates)."""
    avg, out = 0.0, []
    for k, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** (k + 1)))
    return out


def suggest_lr(lrs: Sequence[float], smoothed: Sequence[float], skip_start: int | None = None,
               skip_end: int | None = None) -> float | None:
    """LR at the steepest descent of the smoothed loss against log10(LR), ends skipped."""
    import numpy as np

    n = len(lrs)
    skip_start = max(1, n // 10) if skip_start is None else skip_start
    skip_end = max(1, n // 20) if skip_end is None else skip_end
    if n - skip_start - skip_end < 3:
        return None
    grad = np.gradient(np.asarray(smoothed, dtype=float), np.log10(np.asarray(lrs, dtype=float)))
    i = skip_start + int(np.argmin(grad[skip_start:n - skip_end]))
    return float(lrs[i])


def _check(start_lr: float, end_lr: float, num_steps: int, smooth: float, diverge: float) -> None:
    if not (0 < start_lr < end_lr) or not math.isfinite(end_lr):
        raise ConfigError("lr_find", f"need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    if not 5 <= num_steps <= 100000:
        raise ConfigError("lr_find", f"num_steps must be between 5 and 100000, got {num_steps}")
    if not 0 <= smooth < 1:
        raise ConfigError("lr_find", f"smooth must be in [0, 1), got {smooth}")
    if not diverge > 1:
        raise ConfigError("lr_find", f"diverge must be above 1, got {diverge}")


def find_lr(config: ProjectConfig, on_event: EventCallback | None = None, cancel: CancelToken | None = None, *,
            start_lr: float = 1e-7, end_lr: float = 1.0, num_steps: int = 100, smooth: float = 0.98,
            diverge: float = 4.0, model=None, save: bool = True) -> LRFinderResult:
    """Run the range test with the teacher's recipe; ``model`` (optional) is copied, never trained."""
    _check(start_lr, end_lr, num_steps, smooth, diverge)
    config.require_data()
    emit = on_event or ignore_event
    cancel = cancel or CancelToken()
    try:
        return _run(config, emit, cancel, start_lr, end_lr, num_steps, smooth, diverge, model, save)
    except Cancelled:
        emit(JobFinished(JOB, status="cancelled"))
        raise
    except NTMMError as exc:
        emit(JobFailed(JOB, message=str(exc)))
        raise


def _run(config: ProjectConfig, emit: EventCallback, cancel: CancelToken, start_lr: float, end_lr: float,
         num_steps: int, smooth: float, diverge: float, model, save: bool) -> LRFinderResult:
    import torch
    import transformers
    from torch.nn.functional import cross_entropy
    from transformers import DataCollatorWithPadding


    t0 = time.monotonic()
    t = config.teacher
    device = choose_device(t)
    precision = choose_precision(t, device)
    emit(Progress(JOB, phase="loading model", done=0, total=2))
    source = resolve_model_source(t.base_model, config.base_dir)
    tokenizer = load_tokenizer(source, trust_remote_code=t.trust_remote_code)
    emit(Progress(JOB, phase="preparing data", done=1, total=2))
    prepared = prepare_data(config.data, seed=config.seed, base_dir=config.base_dir)
    if config.data.augment_copies > 0:  # test on the data the teacher will see
        prepared = augment_split(prepared, config.data, config.seed)
    train = tokenize(prepared, tokenizer, config.data.max_length)["train"].remove_columns(["text"])
    cancel.raise_if_cancelled()
    transformers.set_seed(config.seed)
    if model is None:
        work = load_classifier(source, id2label=prepared.id2label, trust_remote_code=t.trust_remote_code)
    else:
        work = copy.deepcopy(model)  # the caller's weights are never touched
        if work.config.num_labels != len(prepared.label_names):
            raise NTMMError(f"The model has {work.config.num_labels} labels but the data has {len(prepared.label_names)}.")
    emit(Progress(JOB, phase="starting training", done=2, total=2))
    work.to(device).train()

    loader = torch.utils.data.DataLoader(train, batch_size=t.batch_size, shuffle=True,
                                         collate_fn=DataCollatorWithPadding(tokenizer),
                                         generator=torch.Generator().manual_seed(config.seed))
    optimizer = torch.optim.AdamW(work.parameters(), lr=start_lr, betas=(t.adam_beta1, t.adam_beta2),
                                  eps=t.adam_epsilon, weight_decay=t.weight_decay)
    # fp16 would need a gradient scaler whose own adaptation distorts the curve, so fp16 recipes run the test in fp32.
    autocast_dtype = torch.bfloat16 if precision == "bf16" and device == "cuda" else None
    schedule = lr_schedule(start_lr, end_lr, num_steps)
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    avg, best = 0.0, math.inf
    reason = f"reached end_lr {end_lr:g}"
    batches = iter(loader)
    emit(LogMessage(JOB, text=f"LR range test: {num_steps} steps from {start_lr:g} to {end_lr:g} on {device}, "
                              f"batch {t.batch_size} x {t.gradient_accumulation_steps} accumulation"))
    # one event per step (interval 0): steps are slow enough, and the GUI plots the curve live from them
    reporter = ProgressReporter(JOB, PHASE, num_steps, emit, cancel, interval=0.0)
    t_loop = time.monotonic()
    for k, lr in enumerate(schedule):
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for _ in range(t.gradient_accumulation_steps):
            try:
                batch = next(batches)
            except StopIteration:  # cycle through the data as often as the test needs
                batches = iter(loader)
                batch = next(batches)
            batch = {key: v.to(device) for key, v in batch.items()}
            labels = batch.pop("labels")
            with (torch.autocast(device_type=device, dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()):
                logits = work(**batch).logits
            # the same loss the Trainer uses for this recipe (cross-entropy with label smoothing)
            loss = cross_entropy(logits.float(), labels, label_smoothing=t.label_smoothing) / t.gradient_accumulation_steps
            loss.backward()
            step_loss += float(loss.detach())
        if t.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(work.parameters(), t.max_grad_norm)
        optimizer.step()
        if not math.isfinite(step_loss):
            reason = f"loss became {step_loss} at lr {lr:.2e}"
            break
        avg = smooth * avg + (1 - smooth) * step_loss
        value = avg / (1 - smooth ** (k + 1))
        lrs.append(lr)
        losses.append(step_loss)
        smoothed.append(value)
        best = min(best, value)
        # the curve point itself, for live plots (the GUI draws loss against LR as the test runs)
        emit(TrainLog(JOB, step=k + 1, max_steps=num_steps, loss=step_loss, learning_rate=lr,
                      eta_seconds=(time.monotonic() - t_loop) / (k + 1) * (num_steps - k - 1),
                      extra={"smoothed": value}))
        reporter.advance(message=f"lr {lr:.2e} loss {value:.4f}")
        if value > diverge * best:
            reason = f"diverged at lr {lr:.2e} (smoothed loss {value:.4f} > {diverge:g} x best {best:.4f})"
            break
    del work, optimizer  # free the copy before returning

    suggestion = suggest_lr(lrs, smoothed)
    min_lr = lrs[min(range(len(smoothed)), key=smoothed.__getitem__)] if smoothed else None
    result = LRFinderResult(lrs=lrs, losses=losses, smoothed=smoothed, suggestion=suggestion, stopped_reason=reason,
                            min_loss_lr=min_lr, steps=len(lrs), wall_seconds=time.monotonic() - t0, device=device,
                            base_model=t.base_model,
                            settings={"start_lr": start_lr, "end_lr": end_lr, "num_steps": num_steps, "smooth": smooth,
                                      "diverge": diverge, "batch_size": t.batch_size,
                                      "gradient_accumulation_steps": t.gradient_accumulation_steps,
                                      "weight_decay": t.weight_decay, "betas": [t.adam_beta1, t.adam_beta2],
                                      "eps": t.adam_epsilon, "label_smoothing": t.label_smoothing,
                                      "max_grad_norm": t.max_grad_norm, "seed": config.seed,
                                      "data_fingerprint": prepared.report.fingerprint})
    if save:
        path = lr_find_path(config)
        result.path = str(path)
        atomic_write_json(path, result.to_dict())
    emit(LogMessage(JOB, text=result.summary_text().splitlines()[0]))
    emit(JobFinished(JOB, status="completed", summary={"suggestion": suggestion, "stopped_reason": reason,
                                                       "steps": len(lrs)},
                     paths={"lr_find": result.path} if result.path else {}))
    return result
