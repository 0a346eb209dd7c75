"""The training recipe as the ``Trainer`` sees it, shared by the teacher, the student and the baseline.

The recipe in :class:`~ntmm_engine.core.config.RecipeConfig` maps onto
``transformers.TrainingArguments`` in one place (:func:`training_arguments`),
so teacher and student train the same way and tests can check every option.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.config import RecipeConfig
from ..core.errors import ConfigError
from ..core.results import Record
from ..core.runfolder import atomic_write_json, atomic_write_text, newest_complete_checkpoint, staging_dir
from ..reports.calibration import Calibration
from ..reports.compare import BaselineCheck
from ..reports.intervals import format_score
from ..reports.metrics import classification_metrics
from .plan import TrainingPlan


# ------------------------------------------------------------ device/precision
def choose_device(recipe: RecipeConfig) -> str:
    import torch

    want = recipe.device
    if want == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if want == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device", "cuda was asked for, but no CUDA GPU is available", hint="use device: auto or cpu")
    if want == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device", "mps was asked for, but Apple's MPS backend is not available", hint="use device: auto or cpu")
    return want


def choose_precision(recipe: RecipeConfig, device: str) -> str:
    import torch

    p = recipe.precision
    if p == "auto":
        if device == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"
    if p == "fp16" and device != "cuda":
        raise ConfigError("precision", f"fp16 mixed precision needs a CUDA GPU (device is {device})", hint="use precision: auto or fp32")
    if p == "bf16" and device == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("precision", "this GPU does not support bf16", hint="use precision: auto or fp16")
    return p


def training_arguments(recipe: RecipeConfig, output_dir: str | Path, *, plan: TrainingPlan, seed: int, device: str,
                       precision: str, has_eval: bool = True, group_by_length: bool = True, **overrides: Any):
    """Map the NTMM recipe and its training plan (steps, accumulation, evaluation interval) onto ``TrainingArguments``."""
    from transformers import TrainingArguments

    metric = "eval_loss" if recipe.early_stopping_metric == "loss" else f"eval_{recipe.early_stopping_metric}"
    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir),
        max_steps=plan.max_steps,  # the plan counts in optimizer steps, whether epochs are auto or explicit
        learning_rate=recipe.learning_rate,
        per_device_train_batch_size=recipe.batch_size,
        per_device_eval_batch_size=recipe.eval_batch_size,
        gradient_accumulation_steps=plan.gradient_accumulation_steps,
        weight_decay=recipe.weight_decay,
        adam_beta1=recipe.adam_beta1,
        adam_beta2=recipe.adam_beta2,
        adam_epsilon=recipe.adam_epsilon,
        optim="adamw_torch",
        warmup_ratio=recipe.warmup_ratio,
        lr_scheduler_type=recipe.lr_scheduler,
        label_smoothing_factor=recipe.label_smoothing,
        max_grad_norm=recipe.max_grad_norm,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=device == "cpu",
        seed=seed,
        data_seed=seed,
        logging_strategy="steps",
        logging_steps=recipe.logging_steps,
        # about 10 evaluations per run, each with a checkpoint (the best one is restored at the end)
        eval_strategy="steps" if has_eval else "no",
        eval_steps=plan.eval_steps,
        save_strategy="steps" if has_eval else "no",
        save_steps=plan.eval_steps,
        save_total_limit=recipe.save_total_limit,
        save_safetensors=True,
        load_best_model_at_end=has_eval,
        metric_for_best_model=metric,
        greater_is_better=recipe.early_stopping_metric != "loss",
        group_by_length=group_by_length,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        remove_unused_columns=True,
    )
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


def quiet_trainer(trainer):
    """Drop the console printers the Trainer adds (events replace them)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


def metrics_fn(label_names: list[str]):
    """``compute_metrics`` for the Trainer: accuracy, macro-F1, per class, confusion."""
    def compute(eval_pred) -> dict[str, Any]:
        logits, labels = eval_pred.predictions, eval_pred.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        return classification_metrics(labels, np.argmax(logits, axis=-1), label_names)
    return compute


def early_stopping_callbacks(recipe: RecipeConfig) -> list:
    from transformers import EarlyStoppingCallback

    if recipe.early_stopping_patience <= 0:
        return []
    return [EarlyStoppingCallback(early_stopping_patience=recipe.early_stopping_patience,
                                  early_stopping_threshold=recipe.early_stopping_threshold)]


def stop_reason(state, cancelled: bool, recipe: RecipeConfig) -> str:
    if cancelled:
        return "cancelled by the user"
    if state.global_step < state.max_steps:
        return (f"early stopping: validation {recipe.early_stopping_metric} did not improve for "
                f"{recipe.early_stopping_patience} evaluations")
    return "completed all steps"


def split_metrics(trainer, dataset, label_names: list[str]) -> tuple[dict[str, Any], np.ndarray]:
    """Predict a split with the trainer's current (best) model: metrics + logits (rows in dataset order)."""
    # group_by_length also batches evaluation with a *shuffled* LengthGroupedSampler;
    # predict in dataset order so the logits line up with the split's rows.
    grouped = trainer.args.group_by_length
    trainer.args.group_by_length = False
    try:
        out = trainer.predict(dataset)
    finally:
        trainer.args.group_by_length = grouped
    logits = out.predictions[0] if isinstance(out.predictions, tuple) else out.predictions
    m = classification_metrics(out.label_ids, np.argmax(logits, axis=-1), label_names, intervals=True)
    m["loss"] = float(out.metrics.get("test_loss", float("nan")))
    return m, logits


def last_checkpoint(folder: str | Path) -> str | None:
    """The newest *complete* Trainer checkpoint; a torn one (killed mid-save) is skipped.

    transformers' ``get_last_checkpoint`` would return a half-written folder
    and every later resume would then fail on its missing trainer_state.json.
    """
    return newest_complete_checkpoint(folder)


def save_model_atomically(model, tokenizer, folder: str | Path, extra_files: dict[str, Any] | None = None,
                          card: str | None = None) -> Path:
    """save_pretrained (safetensors) + tokenizer into a staging folder, then rename.

    ``card`` is the text of a model card (see :mod:`ntmm_engine.model_card`), saved as README.md.
    """
    with staging_dir(folder) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        for name, data in (extra_files or {}).items():
            atomic_write_json(tmp / name, data)
        if card is not None:
            atomic_write_text(tmp / "README.md", card)
    return Path(folder)


# ------------------------------------------------------------------ results
@dataclass
class TrainResult(Record):
    """What a training job returns (and writes as ``result.json``)."""

    job: str
    status: str  # completed | cancelled
    run_dir: str
    model_dir: str | None = None
    checkpoint: str | None = None
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # split -> metrics
    total_steps: int = 0
    steps_done: int = 0
    best_step: int | None = None
    stop_reason: str = ""
    wall_seconds: float = 0.0
    train_seconds: float = 0.0
    train_samples_per_second: float | None = None
    device: str = "cpu"
    precision: str = "fp32"
    parameters: int = 0
    plan: TrainingPlan | None = None                     # the schedule it followed (auto or explicit)
    classical: dict[str, dict[str, Any]] = field(default_factory=dict)  # the classical baseline's metrics per split
    baseline_check: BaselineCheck | None = None          # this model against the classical baseline (test split)
    calibration: Calibration | None = None               # temperature (fitted on validation), ECE/Brier/NLL before/after
    extra: dict[str, Any] = field(default_factory=dict)

    def summary_text(self) -> str:
        """What the CLI prints after training: plan, scores with intervals beside the classical baseline, warning."""
        if self.status == "cancelled":
            return (f"Cancelled at step {self.steps_done}/{self.total_steps}. Resume with --resume "
                    f"(checkpoint {self.checkpoint}).")
        lines = [f"Done in {self.wall_seconds:.0f} s ({self.stop_reason}); model in {self.model_dir}"]
        if self.plan is not None:
            best = f", best checkpoint at step {self.best_step}" if self.best_step else ""
            lines.append(f"Trained {self.steps_done} of {self.plan.max_steps} planned steps ({self.plan.rule}){best}")
        lines.append(f"{'':<11} {'model':<10} {'accuracy (95% interval)':<26} macro-F1 (95% interval)")
        for split, m in self.metrics.items():
            rows = [(self.job, m)] + ([("classical", self.classical[split])] if split in self.classical else [])
            for name, mm in rows:
                lines.append(f"{split:>11} {name:<10} {format_score(mm.get('accuracy'), mm.get('accuracy_ci')):<26} "
                             f"{format_score(mm.get('macro_f1'), mm.get('macro_f1_ci'))}")
        if self.calibration is not None:
            lines.append(f"Calibration: {self.calibration.summary()}")
        if self.baseline_check is not None and self.baseline_check.warning:
            lines.append("Warning: " + self.baseline_check.warning)
        return "\n".join(lines)
