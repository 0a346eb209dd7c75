"""How long and in what batches a stage trains: the ``auto`` recipe rule, decided before training starts.

A fixed number of epochs undertrains small datasets badly: 4 epochs of 300
texts at an effective batch of 64 are 20 optimizer steps. ``auto`` sizes
training in optimizer steps instead (``epochs: auto``) and drops gradient
accumulation where the data are few (``gradient_accumulation_steps: auto``):

==================  ===================  =====================================================
training examples   batch x accumulation  optimizer steps
==================  ===================  =====================================================
up to 50,000        batch_size x 1        3 epochs, at least 600 and at most 20,000
50,001 - 200,000    batch_size x 2        3 epochs, at most 20,000
above 200,000       batch_size x 4        3 epochs, at most 20,000
==================  ===================  =====================================================

Every run, auto or explicit, is evaluated (and checkpointed) ``evaluations``
times (10 by default), evenly spaced in steps, so early stopping on validation macro-F1 has points
to choose from even when an epoch is a handful of steps; the best checkpoint
is restored at the end. Explicit numbers win: ``epochs: 4`` trains exactly 4
epochs with the accumulation given.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from ..core.config import AUTO, RecipeConfig
from ..core.results import Record

AUTO_EPOCHS = 3.0          # passes over large datasets
MIN_STEPS = 600            # floor for small datasets: the updates they need (see bench/recipe_auto.py)
MAX_STEPS = 20_000         # cap: large datasets do not train for days
ACCUMULATION_BANDS = ((50_000, 1), (200_000, 2))  # (up to N examples, accumulation); above: 4


@dataclass
class TrainingPlan(Record):
    """The schedule a training stage follows (shown before training and kept in its result)."""

    examples: int
    batch_size: int
    gradient_accumulation_steps: int
    devices: int
    steps_per_epoch: int
    max_steps: int
    epochs: float          # the passes over the data that max_steps amounts to
    eval_steps: int        # evaluate and save a checkpoint every this many optimizer steps
    rule: str              # why: "auto: ..." or "explicit: ..."
    seconds_per_step: float | None = None  # measured on this machine (estimate_seconds), if it was
    seconds: float | None = None           # estimated training time

    @property
    def effective_batch(self) -> int:
        return self.batch_size * self.gradient_accumulation_steps * self.devices

    @property
    def evaluations(self) -> int:
        return math.ceil(self.max_steps / self.eval_steps)

    def summary(self) -> str:
        """One line for logs, the data report and the Teacher page."""
        acc = "no accumulation" if self.gradient_accumulation_steps == 1 else f"accumulation {self.gradient_accumulation_steps}"
        text = (f"about {self.max_steps} optimizer steps (batch {self.batch_size}, {acc}; {self.epochs:.1f} epochs of "
                f"{self.examples} texts), evaluated every {self.eval_steps} steps")
        if self.seconds is not None:
            text += f"; ≈ {format_duration(self.seconds)} on this machine"
        return text


def world_size() -> int:
    """Training processes (torchrun/accelerate set WORLD_SIZE); 1 otherwise."""
    return max(int(os.environ.get("WORLD_SIZE", "1") or 1), 1)


def auto_accumulation(examples: int) -> int:
    for limit, accumulation in ACCUMULATION_BANDS:
        if examples <= limit:
            return accumulation
    return 4


def plan_training(recipe: RecipeConfig, examples: int, devices: int = 1) -> TrainingPlan:
    """The plan for ``examples`` training texts under ``recipe`` (``auto`` resolved)."""
    examples = max(int(examples), 1)
    devices = max(int(devices), 1)
    acc_auto = recipe.gradient_accumulation_steps == AUTO
    accumulation = auto_accumulation(examples) if acc_auto else int(recipe.gradient_accumulation_steps)
    batches_per_epoch = math.ceil(examples / (recipe.batch_size * devices))
    steps_per_epoch = max(math.ceil(batches_per_epoch / accumulation), 1)
    if recipe.epochs == AUTO:
        steps = math.ceil(AUTO_EPOCHS * steps_per_epoch)
        floor = MIN_STEPS if examples <= ACCUMULATION_BANDS[0][0] else 0
        max_steps = min(max(steps, floor), MAX_STEPS)
        why = (f"auto: {AUTO_EPOCHS:g} epochs would be {steps} steps; " +
               (f"raised to the floor of {MIN_STEPS} for a small dataset" if max_steps > steps else
                f"capped at {MAX_STEPS}" if max_steps < steps else "kept"))
    else:
        max_steps = max(math.ceil(float(recipe.epochs) * steps_per_epoch), 1)
        why = f"explicit: {float(recipe.epochs):g} epochs"
    if acc_auto:
        why += f"; accumulation {accumulation} (auto, {examples} texts)"
    eval_steps = max(math.ceil(max_steps / max(int(recipe.evaluations), 1)), 1)
    return TrainingPlan(examples=examples, batch_size=recipe.batch_size, gradient_accumulation_steps=accumulation,
                        devices=devices, steps_per_epoch=steps_per_epoch, max_steps=max_steps,
                        epochs=max_steps / steps_per_epoch, eval_steps=eval_steps, rule=why)


def format_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
