"""``TrainerCallback`` that turns Trainer progress into NTMM events and obeys cancel."""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback

from ..core.events import CancelToken, CheckpointSaved, Evaluation, JobStarted, TrainLog

# Keys of Trainer logs that are not loss components.
_STANDARD_KEYS = {"loss", "learning_rate", "grad_norm", "epoch", "step", "total_flos", "train_runtime",
                  "train_samples_per_second", "train_steps_per_second", "train_loss"}


class EventCallback(TrainerCallback):
    """Emits JobStarted, TrainLog, Evaluation and CheckpointSaved; stops on cancel.

    Cancel is checked at every optimizer step (``on_step_end``): training stops
    there and the Trainer saves a resumable checkpoint (optimizer, scheduler, RNG).
    """

    def __init__(self, job: str, on_event: EventCallback, cancel: CancelToken | None,
                 *, device: str, precision: str, run_dir: str, samples_per_step: int,
                 resumed_from: str | None = None):
        self.job, self.on_event, self.cancel = job, on_event, cancel
        self.device, self.precision, self.run_dir = device, precision, run_dir
        self.samples_per_step = samples_per_step
        self.resumed_from = resumed_from
        self.cancelled = False
        self._t0 = 0.0
        self._step0 = 0
        self._last_t = 0.0
        self._last_step = 0
        self.train_seconds = 0.0
        self.samples_per_second: float | None = None

    def on_train_begin(self, args, state, control, **kw):
        self._t0 = self._last_t = time.monotonic()
        self._step0 = self._last_step = state.global_step
        self.on_event(JobStarted(self.job, total_steps=state.max_steps, device=self.device, precision=self.precision,
                                 run_dir=self.run_dir, resumed_from=self.resumed_from, start_step=state.global_step))

    def on_step_end(self, args, state, control, **kw):
        self.train_seconds = time.monotonic() - self._t0
        if self.cancel is not None and self.cancel.cancelled and not self.cancelled:
            self.cancelled = True
            control.should_training_stop = True
            control.should_save = True
            control.should_evaluate = False

    def on_log(self, args, state, control, logs: dict[str, Any] | None = None, **kw):
        logs = logs or {}
        if "loss" not in logs:
            return
        now = time.monotonic()
        steps = state.global_step - self._last_step
        sps = steps * self.samples_per_step / (now - self._last_t) if steps and now > self._last_t else None
        done = state.global_step - self._step0
        eta = (now - self._t0) / done * (state.max_steps - state.global_step) if done else None
        self._last_t, self._last_step = now, state.global_step
        if sps:
            self.samples_per_second = sps
        extra = {k: float(v) for k, v in logs.items() if k not in _STANDARD_KEYS and isinstance(v, (int, float))}
        self.on_event(TrainLog(self.job, step=state.global_step, max_steps=state.max_steps, epoch=float(state.epoch or 0),
                               loss=_f(logs.get("loss")), learning_rate=_f(logs.get("learning_rate")),
                               grad_norm=_f(logs.get("grad_norm")), samples_per_second=sps, eta_seconds=eta, extra=extra))

    def on_evaluate(self, args, state, control, metrics: dict[str, Any] | None = None, **kw):
        metrics = {k.removeprefix("eval_"): v for k, v in (metrics or {}).items()}
        split = metrics.pop("split", "validation")
        self.on_event(Evaluation(self.job, step=state.global_step, epoch=float(state.epoch or 0), split=split, metrics=metrics))

    def on_save(self, args, state, control, **kw):
        from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
        self.on_event(CheckpointSaved(self.job, step=state.global_step,
                                      path=f"{args.output_dir}/{PREFIX_CHECKPOINT_DIR}-{state.global_step}"))


def _f(v: Any) -> float | None:
    return None if v is None else float(v)
