"""Teacher fine-tuning job: ``run_teacher(config, on_event, cancel, resume)``."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from ..classical.job import classical_reference
from ..core.config import ProjectConfig
from ..core.errors import NTMMError
from ..core.events import CancelToken, Evaluation, EventCallback, Progress
from ..core.jobframe import JobContext, finish_stage, is_main_process, job_frame
from ..core.models import count_parameters, load_classifier, load_tokenizer, resolve_model_source
from ..data.augment import augment_split
from ..data.prepare import prepare_data, tokenize
from ..reports.calibration import calibrate
from ..reports.compare import baseline_check
from ..reports.model_card import render_model_card
from .plan import plan_training, world_size
from .recipe import (
    TrainResult,
    choose_device,
    choose_precision,
    early_stopping_callbacks,
    last_checkpoint,
    metrics_fn,
    quiet_trainer,
    save_model_atomically,
    split_metrics,
    stop_reason,
    training_arguments,
)
from .tracking import Tracking, check_report_to

STAGE = "teacher"


def run_teacher(config: ProjectConfig, on_event: EventCallback | None = None, cancel: CancelToken | None = None,
                resume: bool = False, *, padding: str = "longest") -> TrainResult:
    """Fine-tune the teacher; returns a completed or cancelled :class:`TrainResult`.

    ``resume=True`` continues from the newest checkpoint of a cancelled or
    crashed run (optimizer, scheduler and RNG state included). ``padding``
    is "longest" (dynamic, per batch) or "max_length" (for benchmarks).
    """
    config.require_data()
    ctx = JobContext("teacher", config, on_event, cancel, stage=STAGE)
    with job_frame(ctx):
        return _run(ctx, resume, padding)


def _run(ctx: JobContext, resume: bool, padding: str) -> TrainResult:
    # transformers (and through it torch) is imported when a job runs, not when the engine is imported
    from transformers import DataCollatorWithPadding, Trainer, set_seed

    from .callbacks import EventCallback as TrainerEvents

    cfg, t = ctx.config, ctx.config.teacher
    ckpt_dir = ctx.layout.checkpoints(STAGE)
    resume_from = last_checkpoint(ckpt_dir) if resume else None
    if resume and resume_from is None:
        raise NTMMError(f"Nothing to resume: no checkpoint in {ckpt_dir}.", hint="start the teacher without resume")
    device = choose_device(t)
    precision = choose_precision(t, device)
    check_report_to(t, "teacher")

    ctx.emit(Progress(ctx.job, phase="loading model", done=0, total=3))
    source = resolve_model_source(t.base_model, cfg.base_dir)
    tokenizer = load_tokenizer(source, trust_remote_code=t.trust_remote_code)
    ctx.emit(Progress(ctx.job, phase="preparing data", done=1, total=3))
    prepared = prepare_data(cfg.data, seed=cfg.seed, base_dir=cfg.base_dir, tokenizer=tokenizer,
                            on_progress=lambda m: ctx.emit(Progress(ctx.job, phase=m, done=1, total=3)))
    classical = classical_reference(ctx, prepared)  # on the texts as given: augmentation is the teacher's recipe
    if cfg.data.augment_copies > 0:  # adds augmented copies to the train split only
        prepared = augment_split(prepared, cfg.data, cfg.seed)
    ctx.log(prepared.report.to_text())
    ctx.cancel.raise_if_cancelled()
    tokenized = tokenize(prepared, tokenizer, cfg.data.max_length)
    plan = plan_training(t, len(tokenized["train"]), devices=world_size())
    ctx.log(f"Training plan: {plan.summary()} ({plan.rule})")
    ctx.emit(Progress(ctx.job, phase="loading model", done=2, total=3))
    set_seed(cfg.seed)  # head initialisation is reproducible
    model = load_classifier(source, id2label=prepared.id2label, trust_remote_code=t.trust_remote_code)
    ctx.cancel.raise_if_cancelled()
    # Data, tokenizer and model are ready: only now are the previous teacher's checkpoints and history replaced,
    # so a run that fails before this point leaves a finished teacher as it was.
    ctx.begin_replacing(fresh_history=not resume)
    if not resume and ckpt_dir.exists() and is_main_process():
        shutil.rmtree(ckpt_dir)  # a fresh start must not resume stale checkpoints
    ctx.emit(Progress(ctx.job, phase="starting training", done=3, total=3))

    tracking = Tracking(ctx, t, STAGE, resume=resume_from is not None)
    args = training_arguments(t, ckpt_dir, plan=plan, seed=cfg.seed, device=device, precision=precision,
                              group_by_length=cfg.data.group_by_length,
                              ddp_find_unused_parameters=False,  # every teacher weight is used
                              **tracking.arguments())
    collator = DataCollatorWithPadding(tokenizer, padding=padding,
                                       max_length=cfg.data.max_length if padding == "max_length" else None)
    events = TrainerEvents(ctx.job, ctx.emit, ctx.cancel, device=device, precision=precision,
                           run_dir=str(ctx.run.root), resumed_from=resume_from,
                           samples_per_step=plan.effective_batch)
    trainer = quiet_trainer(Trainer(model=model, args=args, train_dataset=tokenized["train"], eval_dataset=tokenized["validation"],
                      data_collator=collator, processing_class=tokenizer, compute_metrics=metrics_fn(prepared.label_names),
                      callbacks=[events, *early_stopping_callbacks(t)]))
    with tracking:
        started = time.monotonic()
        train_out = trainer.train(resume_from_checkpoint=resume_from)
        train_seconds = time.monotonic() - started
        state = trainer.state
        result = TrainResult(job=ctx.job, status="cancelled" if events.cancelled else "completed", run_dir=str(ctx.run.root),
                             total_steps=state.max_steps, steps_done=state.global_step, device=device, precision=precision,
                             stop_reason=stop_reason(state, events.cancelled, t), train_seconds=train_seconds,
                             train_samples_per_second=train_out.metrics.get("train_samples_per_second"),
                             parameters=count_parameters(model), plan=plan,
                             classical={s: classical.metrics[s] for s in classical.metrics})
        if events.cancelled:
            result.checkpoint = last_checkpoint(ckpt_dir)
            result.wall_seconds = time.monotonic() - ctx.t0
            ctx.log(f"Cancelled at step {state.global_step}/{state.max_steps}; resume from {result.checkpoint}")
            finish_stage(ctx, result)
            tracking.cancelled = True
            return result

        result.best_step = _best_step(state)
        test_preds: list[int] = []
        split_logits = {}
        for split in ("validation", "test"):
            ctx.emit(Progress(ctx.job, phase=f"evaluating {split}", done=0, total=1))
            m, logits = split_metrics(trainer, tokenized[split], prepared.label_names)
            result.metrics[split] = m
            split_logits[split] = (logits, tokenized[split]["labels"])
            test_preds = logits.argmax(-1).tolist()
            ctx.emit(Evaluation(ctx.job, step=state.global_step, epoch=float(state.epoch or 0), split=f"final_{split}", metrics=m))
        tracking.log_final(trainer, result.metrics)
    result.calibration = calibrate(split_logits)  # the temperature, fitted on validation, goes into ntmm.json
    ctx.log(f"Calibration: {result.calibration.summary()}")
    result.baseline_check = baseline_check("teacher", prepared.splits["test"]["label"], test_preds,
                                           classical.predictions["test"], len(prepared.label_names))
    if result.baseline_check.warning:
        ctx.log(result.baseline_check.warning, level="warning")
    out_dir = ctx.layout.teacher_model
    if is_main_process():
        save_model_atomically(trainer.model, tokenizer, out_dir,
                              extra_files={"ntmm.json": {"role": "teacher", "base_model": t.base_model,
                                                         "max_length": cfg.data.max_length,
                                                         "label_names": prepared.label_names,
                                                         "text_column": prepared.report.text_column,
                                                         "data_fingerprint": prepared.report.fingerprint,
                                                         **result.calibration.model_info()}},
                              card=_model_card(ctx, result, prepared, out_dir))
    result.model_dir = str(out_dir)
    result.extra["data_report"] = prepared.report.to_dict()
    result.wall_seconds = time.monotonic() - ctx.t0
    finish_stage(ctx, result, data_fingerprint=prepared.report.fingerprint, model_dir=str(out_dir))
    return result


def _model_card(ctx: JobContext, result: TrainResult, prepared, out_dir: Path) -> str | None:
    """The teacher's README.md; a bug here must not cost the trained model, so it only logs."""
    t = ctx.config.teacher
    try:
        return render_model_card(role="teacher", config=ctx.config, metrics=result.metrics, base_model=t.base_model,
                                 construction=f"fine-tuned from {t.base_model} with a new {len(prepared.label_names)}-class "
                                              f"classification head for {result.steps_done} optimizer steps ({result.stop_reason}); "
                                              f"the checkpoint with the best validation {t.early_stopping_metric} was kept",
                                 data_report=prepared.report.to_dict(), parameters=result.parameters, folder=out_dir,
                                 classical=result.classical, calibration=result.calibration,
                                 warning=result.baseline_check.warning if result.baseline_check else "")
    except Exception as exc:  # noqa: BLE001
        ctx.log(f"Could not write the model card: {type(exc).__name__}: {exc}", level="warning")
        return None


def _best_step(state) -> int | None:
    ckpt = state.best_model_checkpoint
    if ckpt:
        try:
            return int(Path(ckpt).name.rsplit("-", 1)[1])
        except (IndexError, ValueError):
            return None
    return None
