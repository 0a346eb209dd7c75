"""Distillation job: ``run_distill(config, on_event, cancel, resume)``.

Trains a small student to match the fine-tuned teacher (soft targets, pooled
hidden states, logits) plus the hard labels, and optionally the identical
student on hard labels only (the baseline), with the teacher's recipe. Writes::

    <run>/distill/student/  baseline/        save_pretrained folders + ntmm.json
    <run>/distill/checkpoints/  baseline_checkpoints/   resumable Trainer checkpoints
    <run>/distill/cache/<key>.safetensors    teacher outputs (reused across runs)
    <run>/distill/cache/unlabelled-<key>/    the teacher's outputs on the unlabelled texts, in chunks (resumable)
    <run>/distill/history.jsonl  result.json

Events use job "distill" for the student's training and "baseline" for the baseline's.
"""

from __future__ import annotations

import copy
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..classical.job import classical_reference, eval_fingerprint
from ..core.config import ProjectConfig, RecipeConfig
from ..core.errors import NTMMError
from ..core.events import CancelToken, Evaluation, EventCallback, LogMessage, Progress, TrainLog
from ..core.jobframe import JobContext, finish_stage, is_main_process, job_frame
from ..core.layout import RunLayout
from ..core.models import count_parameters, load_classifier, load_tokenizer, model_identity, resolve_model_source
from ..core.results import Record
from ..core.runfolder import atomic_write_json, read_json
from ..data.augment import augment_split
from ..data.prepare import prepare_data, tokenize, tokenize_texts
from ..data.unlabelled import read_unlabelled
from ..reports.calibration import calibrate
from ..reports.compare import BaselineCheck, baseline_check
from ..reports.intervals import format_difference, format_score, paired_difference
from ..reports.metrics import agreement, agreement_matrix, changed_examples, classification_metrics, per_class_agreement
from ..reports.model_card import render_model_card
from ..train.plan import TrainingPlan, plan_training, world_size
from ..train.recipe import (
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
from ..train.tracking import Tracking, check_report_to
from .students import build_student, hidden_size
from .teacher_cache import (
    CACHE_FORMAT,
    CACHE_PHASE,
    UNLABELLED_FORMAT,
    CachedTeacher,
    LiveTeacher,
    TeacherOutputs,
    cache_key,
    cache_path,
    compute_teacher_outputs,
    label_unlabelled,
    load_cache,
    save_cache,
    unlabelled_cache_dir,
)
from .transfer import (
    NO_LABEL,
    TransferSet,
    UnlabelledUse,
    confident_rows,
    label_shift,
    mixed_dataset,
    per_epoch,
    shift_warning,
    student_plan,
)

STAGE = "distill"
# The distillation loss (holding the student->teacher projection) rides on the student
# under this name while training, so the Trainer optimizes, checkpoints and resumes it
# with the student; it is removed before the student is exported.
LOSS_ATTR = "ntmm_distill_loss"
EVAL_SPLITS = ("validation", "test")


def teacher_source(config: ProjectConfig) -> str:
    """The teacher to distil: ``distill.teacher`` or the project's own teacher model."""
    if config.distill.teacher:
        return resolve_model_source(config.distill.teacher, config.base_dir)
    path = RunLayout(config.run_path).teacher_model
    if not (path / "config.json").is_file():
        raise NTMMError(f"No teacher model in {path}: run the teacher first.",
                        hint="run 'ntmm teacher' (or the Teacher tab), or set distill.teacher to a model folder")
    return str(path)


# ------------------------------------------------------------------ result
@dataclass
class SeedRuns(Record):
    """Student and baseline trained with several seeds: test macro-F1 and accuracy of each."""

    seeds: list[int] = field(default_factory=list)
    student: dict[str, list[float]] = field(default_factory=dict)   # "macro_f1"/"accuracy" -> one value per seed
    baseline: dict[str, list[float]] = field(default_factory=dict)

    @staticmethod
    def mean_sd(values: list[float]) -> tuple[float, float]:
        a = np.asarray(values, dtype=float)
        return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0

    def text(self, role: str, metric: str = "macro_f1") -> str:
        values = getattr(self, role).get(metric) or []
        if not values:
            return "-"
        m, sd = self.mean_sd(values)
        return f"{m:.3f} ± {sd:.3f} ({len(values)} seeds)"


@dataclass
class DistillResult(Record):
    """What ``run_distill`` returns (and writes as ``result.json``)."""

    status: str  # completed | cancelled
    run_dir: str
    teacher_dir: str = ""
    student: TrainResult | None = None
    baseline: TrainResult | None = None
    teacher_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # split -> metrics
    agreement: dict[str, dict[str, float]] = field(default_factory=dict)  # "student"/"baseline" -> split -> share
    per_class_agreement: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # model -> split -> label -> share
    f1_gap: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # model -> split -> label -> teacher F1 - model F1
    agreement_matrix: dict[str, dict[str, list[list[int]]]] = field(default_factory=dict)  # model -> split -> [teacher][model]
    changed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # model -> test texts labelled unlike the teacher
    teacher_predictions: dict[str, list[int]] = field(default_factory=dict)  # split -> the teacher's labels (optimize uses them)
    eval_fingerprint: str = ""  # of the validation and test splits those labels belong to
    parameters: dict[str, int] = field(default_factory=dict)  # teacher, student
    seconds_per_epoch: dict[str, float | None] = field(default_factory=dict)  # distill, baseline
    construction: dict[str, Any] = field(default_factory=dict)
    loss: dict[str, float] = field(default_factory=dict)  # temperature, alpha, weights
    teacher_cache: dict[str, Any] = field(default_factory=dict)  # enabled, path, hit, seconds
    classical_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # the classical baseline per split
    checks: dict[str, BaselineCheck] = field(default_factory=dict)  # "teacher"/"student" against the classical baseline
    differences: dict[str, dict[str, Any]] = field(default_factory=dict)  # e.g. "student - baseline": paired, test split
    seeds: SeedRuns | None = None  # with distill.seeds > 1: every seed's test scores
    unlabelled: UnlabelledUse | None = None  # with data.unlabelled: how many, the mix, the teacher's label distribution
    checkpoint: str | None = None
    stop_reason: str = ""
    wall_seconds: float = 0.0

    @property
    def model_dir(self) -> str | None:
        return self.student.model_dir if self.student else None

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        """The student's metrics per split (what the CLI and JobFinished show)."""
        return self.student.metrics if self.student else {}

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["model_dir"] = self.model_dir  # derived, for readers of result.json (from_dict ignores them)
        d["metrics"] = self.metrics
        return d

    def warnings(self) -> list[str]:
        """What the Distill step's banner and the CLI warn about."""
        return [c.warning for c in self.checks.values() if c.warning] + (
            [self.unlabelled.warning] if self.unlabelled is not None and self.unlabelled.warning else [])

    def summary_text(self) -> str:
        cols = ["classical", "teacher", "student"] + (["baseline"] if self.baseline else [])
        parts = {"classical": self.classical_metrics, "teacher": self.teacher_metrics,
                 "student": self.student.metrics if self.student else {},
                 "baseline": self.baseline.metrics if self.baseline else {}}

        def metric(col: str, split: str, key: str) -> str:
            m = parts[col].get(split, {})
            return format_score(m.get(key), m.get(f"{key}_ci")) if isinstance(m.get(key), (int, float)) else "-"

        def params(col: str) -> str:
            n = None if col == "classical" else self.parameters.get("teacher" if col == "teacher" else "student")
            return f"{n / 1e6:.2f}M" if n else "-"

        rows = [("parameters", [params(c) for c in cols])]
        for split in EVAL_SPLITS:
            short = "val" if split == "validation" else split
            rows.append((f"{short} accuracy", [metric(c, split, "accuracy") for c in cols]))
            rows.append((f"{short} macro-F1", [metric(c, split, "macro_f1") for c in cols]))
        for split in EVAL_SPLITS:
            short = "val" if split == "validation" else split
            rows.append((f"agreement ({short})", ["-", "-"] + [f"{self.agreement[c][split]:.4f}" if c in self.agreement else "-"
                                                              for c in cols[2:]]))
        rows.append(("test ECE raw → cal.", ["-", "-"] + [p.calibration.ece_text() if p and p.calibration else "-"
                                                          for p in (self.student, self.baseline)[:len(cols) - 2]]))
        spe = self.seconds_per_epoch
        rows.append(("seconds/epoch", ["-", "-"] + [f"{spe[k]:.1f}" if spe.get(k) is not None else "-"
                                                    for k in ["distill", "baseline"][:len(cols) - 2]]))
        c = self.construction
        how = c.get("kind", "?") + (f", layers {c['layer_indices']} of {c.get('teacher_layers')}" if c.get("layer_indices") else "")
        width = 26
        lines = [f"Distillation {self.status} ({how}; T={self.loss.get('temperature')}, alpha={self.loss.get('alpha')}); "
                 "scores with 95% bootstrap intervals",
                 "".ljust(20) + "".join(col.rjust(width) for col in cols)]
        lines += [name.ljust(20) + "".join(v.rjust(width) for v in vals) for name, vals in rows]
        for name, d in self.differences.items():
            lines.append(f"{name} (test macro-F1, paired): {format_difference(d)}")
        if self.seeds is not None:
            lines.append(f"Over {len(self.seeds.seeds)} seeds, test macro-F1: student {self.seeds.text('student')}"
                         + (f", baseline {self.seeds.text('baseline')}" if self.seeds.baseline else ""))
        if self.unlabelled is not None:
            lines.append(self.unlabelled.summary_text() + " (the baseline trains on the labelled texts only)")
        for warning in self.warnings():
            lines.append("Warning: " + warning)
        if self.student and self.student.model_dir:
            lines.append(f"Student:  {self.student.model_dir}")
        if self.baseline and self.baseline.model_dir:
            lines.append(f"Baseline: {self.baseline.model_dir}")
        return "\n".join(lines)


# --------------------------------------------------------------- trainer
def distill_trainer_class():
    """``transformers.Trainer`` with the distillation loss and per-component logging.

    Built on demand so importing this module does not import transformers.
    ``distill_loss=None`` trains on hard labels only (the baseline), with the
    same loss path, so both runs treat gradient accumulation alike.
    """
    import torch.nn.functional as F
    from transformers import Trainer

    from .losses import mean_pool

    class DistillTrainer(Trainer):
        def __init__(self, *args, distill_loss=None, teacher=None, label_smoothing: float = 0.0, sampler=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.distill_loss, self.teacher, self.label_smoothing = distill_loss, teacher, label_smoothing
            # With unlabelled rows (labels -100) in the training set: their own sampler, and a row mask for the loss.
            self.mix_sampler = sampler
            # Our loss is a mean over the batch: let the Trainer divide it by the accumulation steps.
            self.model_accepts_loss_kwargs = False
            self._sums: dict[str, Any] = {}
            self._counts: dict[str, Any] = {}

        def _get_train_sampler(self, train_dataset=None):
            return self.mix_sampler if self.mix_sampler is not None else super()._get_train_sampler(train_dataset)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs = dict(inputs)
            idx = inputs.pop("idx", None)
            if not model.training:
                # Evaluation: label-smoothed CE, exactly as for the teacher and the baseline,
                # so validation losses (and early stopping) compare like with like.
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            labels = inputs.pop("labels")
            outputs = model(**inputs, output_hidden_states=self.distill_loss is not None)
            if self.distill_loss is None:
                loss = F.cross_entropy(outputs.logits, labels, label_smoothing=self.label_smoothing)
                parts = {"ce": (loss, labels.shape[0])}
            else:
                student_pooled = mean_pool(outputs.hidden_states[-1], inputs["attention_mask"])
                t_logits, t_pooled = self.teacher(idx, inputs)
                labelled = labels != NO_LABEL if self.mix_sampler is not None else None
                p = self.distill_loss(outputs.logits, student_pooled, t_logits, t_pooled, labels, labelled=labelled)
                loss = p.total
                parts = p.logged()
            for k, (v, n) in parts.items():  # row-weighted sums on the device; read once per log (no sync per step)
                self._sums[k] = self._sums.get(k, 0.0) + v.detach().float() * n
                self._counts[k] = self._counts.get(k, 0.0) + n
            return (loss, outputs) if return_outputs else loss

        def log(self, logs: dict[str, float], start_time=None) -> None:
            if "loss" in logs and self._counts:
                for k, v in self._sums.items():
                    n = float(self._counts[k])
                    if n > 0:  # a part no row of the interval had (unlabelled rows in a labelled-only stretch)
                        logs[f"loss_{k}"] = float(v) / n
                self._sums, self._counts = {}, {}
            super().log(logs, start_time)

    return DistillTrainer


# ------------------------------------------------------------------ job
def run_distill(config: ProjectConfig, on_event: EventCallback | None = None, cancel: CancelToken | None = None,
                resume: bool = False) -> DistillResult:
    """Distil the teacher into a student (and a hard-label baseline); completed or cancelled result.

    ``resume=True`` continues a cancelled or crashed run from its newest
    checkpoint (student first, then baseline) to the same total step count.
    """
    config.require_data()
    ctx = JobContext("distill", config, on_event, cancel, stage=STAGE)
    with job_frame(ctx):
        return _run(ctx, resume)


def _run(ctx: JobContext, resume: bool) -> DistillResult:
    # torch and transformers are imported when a job runs, not when the engine is imported
    import torch
    import transformers

    from .losses import DistillLoss

    cfg, d = ctx.config, ctx.config.distill
    lay = ctx.layout
    ckpt_dir, base_ckpt_dir, phase_file = lay.checkpoints(STAGE), lay.checkpoints(STAGE, "baseline"), lay.student_phase_file
    student_done = resume and phase_file.is_file()
    student_resume = last_checkpoint(ckpt_dir) if resume and not student_done else None
    if resume and not student_done and student_resume is None:
        raise NTMMError(f"Nothing to resume: no checkpoint in {ckpt_dir}.", hint="start distillation without resume")
    device = choose_device(d)
    precision = choose_precision(d, device)
    check_report_to(d, "distill")

    # Teacher, data, student
    ctx.emit(Progress(ctx.job, phase="loading teacher", done=0, total=3))
    t_source = teacher_source(cfg)
    t_tokenizer = load_tokenizer(t_source, trust_remote_code=cfg.teacher.trust_remote_code)
    teacher = load_classifier(t_source, trust_remote_code=cfg.teacher.trust_remote_code)
    teacher_id = model_identity(t_source) if Path(t_source).is_dir() else f"hub:{t_source}"
    ctx.emit(Progress(ctx.job, phase="preparing data", done=1, total=3))
    prepared = prepare_data(cfg.data, seed=cfg.seed, base_dir=cfg.base_dir, tokenizer=t_tokenizer,
                            on_progress=lambda m: ctx.emit(Progress(ctx.job, phase=m, done=1, total=3)))
    # the unlabelled texts (data.unlabelled) are read at once, so a bad file stops the job before anything slow
    unlabelled = read_unlabelled(cfg.data, prepared, base_dir=cfg.base_dir, tokenizer=t_tokenizer, exclude=cfg.run_path,
                                 on_progress=lambda m: ctx.emit(Progress(ctx.job, phase=m, done=1, total=3)))
    _check_teacher_labels(teacher, t_source, prepared.label_names)
    classical = classical_reference(ctx, prepared)  # on the texts as given, before augmentation
    if cfg.data.augment_copies > 0:  # augmented copies join the train split (and the teacher cache)
        prepared = augment_split(prepared, cfg.data, cfg.seed)
    ctx.log(prepared.report.to_text())
    ctx.cancel.raise_if_cancelled()
    ctx.emit(Progress(ctx.job, phase="building student", done=2, total=3))
    transformers.set_seed(cfg.seed)  # new heads/fresh students are reproducible (the baseline reuses this init)
    student = build_student(d, teacher, t_tokenizer, prepared.id2label, base_dir=cfg.base_dir,
                            max_length=cfg.data.max_length, probe_texts=prepared.splits["train"]["text"][:64])
    construction = {**student.describe(), "teacher": t_source}
    ctx.log(f"Student: {_describe(construction)}")
    baseline_init = copy.deepcopy(student.model) if d.baseline else None
    # untouched copies for further seeds (distill.seeds > 1): each seed starts from the same construction
    student_init = copy.deepcopy(student.model) if d.seeds > 1 else None
    baseline_init_first = copy.deepcopy(student.model) if d.seeds > 1 and d.baseline else None
    ctx.emit(Progress(ctx.job, phase="starting training", done=3, total=3))

    tokenized = tokenize(prepared, student.tokenizer, cfg.data.max_length).remove_columns("text")
    # The example index lets a batch find its cached teacher outputs (or its text).
    tokenized["train"] = tokenized["train"].add_column("idx", list(range(len(tokenized["train"]))))
    t_tokenized = tokenized if student.same_tokenizer else tokenize(prepared, t_tokenizer, cfg.data.max_length)

    # Teacher outputs: cached once per example, or validation/test only when running live
    teacher_params, teacher_hidden = count_parameters(teacher), hidden_size(teacher)
    outputs, cache_info = _teacher_outputs(ctx, teacher, t_tokenizer, t_tokenized, prepared, teacher_id, device)
    transfer, use = (_transfer_set(ctx, teacher, t_tokenizer, student, unlabelled, prepared, tokenized, teacher_id, device)
                     if unlabelled else (None, None))
    if d.cache_teacher:
        batch_teacher = CachedTeacher(outputs if transfer is None else TeacherOutputs(
            logits={"train": torch.cat([outputs.logits["train"], transfer.logits])},
            pooled=torch.cat([outputs.pooled, transfer.pooled])))
        del teacher  # not needed any more: free its memory for the student
    else:
        teacher.to(device)
        batch_teacher = LiveTeacher(teacher, t_tokenizer, same_tokenizer=student.same_tokenizer,
                                    texts=list(prepared.splits["train"]["text"]) + (transfer.texts if transfer else []),
                                    max_length=cfg.data.max_length)
    student_params = count_parameters(student.model)
    labels = {s: list(prepared.splits[s]["label"]) for s in EVAL_SPLITS}
    teacher_preds = {s: outputs.predictions(s) for s in EVAL_SPLITS}
    teacher_metrics = {s: classification_metrics(labels[s], teacher_preds[s], prepared.label_names, intervals=True) for s in EVAL_SPLITS}

    result = DistillResult(status="completed", run_dir=str(ctx.run.root), teacher_dir=t_source, construction=construction,
                           teacher_metrics=teacher_metrics, parameters={"teacher": teacher_params, "student": student_params},
                           loss={"temperature": d.temperature, "alpha": d.alpha, "cosine_weight": d.cosine_weight,
                                 "mse_weight": d.mse_weight, "label_smoothing": d.label_smoothing},
                           teacher_cache=cache_info, classical_metrics=dict(classical.metrics), unlabelled=use,
                           teacher_predictions={s: [int(p) for p in teacher_preds[s]] for s in EVAL_SPLITS},
                           eval_fingerprint=eval_fingerprint(prepared))
    n_labelled = len(tokenized["train"])
    plan = plan_training(d, n_labelled, devices=world_size())
    if transfer is None:
        s_plan = plan
        ctx.log(f"Training plan (student and baseline): {plan.summary()} ({plan.rule})")
    else:
        result.loss["unlabelled_weight"] = d.unlabelled_weight
        s_plan = student_plan(d, n_labelled, transfer.unlabelled, devices=world_size())
        ctx.log(f"Training plan (student, {n_labelled} labelled + {transfer.per_epoch} unlabelled texts an epoch): "
                f"{s_plan.summary()} ({s_plan.rule})")
        if d.baseline:
            ctx.log(f"Training plan (baseline, labelled texts only): {plan.summary()} ({plan.rule})")
    # Teacher outputs are ready: only now are the previous student's checkpoints and history replaced,
    # so a run that fails before this point leaves a finished distillation as it was.
    ctx.cancel.raise_if_cancelled()
    ctx.begin_replacing(fresh_history=not resume)
    if not resume and is_main_process():  # a fresh start must not resume stale checkpoints
        for folder in (ckpt_dir, base_ckpt_dir):
            shutil.rmtree(folder, ignore_errors=True)
        phase_file.unlink(missing_ok=True)
    card = {"teacher": t_source, "teacher_identity": teacher_id, "construction": construction,
            "layer_indices": construction.get("layer_indices"), "max_length": cfg.data.max_length,
            "label_names": prepared.label_names, "text_column": prepared.report.text_column, "data_fingerprint": prepared.report.fingerprint}
    common = dict(device=device, precision=precision, tokenizer=student.tokenizer, tokenized=tokenized,
                  label_names=prepared.label_names)
    roles = {"student": dict(plan=s_plan, transfer=transfer), "baseline": dict(plan=plan)}  # the baseline: labelled only

    loss_args = dict(temperature=d.temperature, alpha=d.alpha, cosine_weight=d.cosine_weight, mse_weight=d.mse_weight,
                     label_smoothing=d.label_smoothing, unlabelled_weight=d.unlabelled_weight,
                     student_hidden=hidden_size(student.model), teacher_hidden=teacher_hidden)

    # 1. the student, distilled
    if student_done:
        phase = read_json(phase_file)
        s_result, s_preds = TrainResult.from_dict(phase["result"]), phase["predictions"]
        ctx.log(f"Student already trained ({s_result.model_dir}); continuing with the baseline")
    else:
        loss_fn = DistillLoss(**loss_args)
        if loss_fn.projection is not None:
            student.model.add_module(LOSS_ATTR, loss_fn.to(next(student.model.parameters()).device))
        s_result, s_preds = _train(ctx, "distill", student.model, ckpt_dir, student_resume, lay.student_model,
                                   loss_fn=loss_fn, batch_teacher=batch_teacher,
                                   extra={"role": "student", **card, "distill": result.loss,
                                          "classical_metrics": result.classical_metrics,
                                          **({"unlabelled": _card_unlabelled(use)} if use else {})},
                                   **common, **roles["student"])
        if s_result.status == "cancelled":
            return _cancelled(ctx, result, s_result, "student")
        if is_main_process():
            atomic_write_json(phase_file, {"result": s_result.to_dict(), "predictions": s_preds})
    result.student = s_result
    _compare(result, "student", s_preds, teacher_preds, s_result.metrics, teacher_metrics, prepared.label_names, prepared)

    # 2. the baseline: identical initial student, hard labels only
    if baseline_init is not None:
        b_resume = last_checkpoint(base_ckpt_dir) if resume else None
        b_result, b_preds = _train(ctx, "baseline", baseline_init, base_ckpt_dir, b_resume, lay.baseline_model,
                                   extra={"role": "baseline", **card, "classical_metrics": result.classical_metrics},
                                   **common, **roles["baseline"])
        if b_result.status == "cancelled":
            return _cancelled(ctx, result, b_result, "baseline")
        result.baseline = b_result
        _compare(result, "baseline", b_preds, teacher_preds, b_result.metrics, teacher_metrics, prepared.label_names, prepared)

    # 3. how sure: against the classical baseline and the no-distillation baseline, paired on the test split
    n_classes, test_labels = len(prepared.label_names), labels["test"]
    for name, preds in (("teacher", teacher_preds["test"]), ("student", s_preds["test"])):
        result.checks[name] = baseline_check(name, test_labels, preds, classical.predictions["test"], n_classes)
        if result.checks[name].warning:
            ctx.log(result.checks[name].warning, level="warning")
    result.differences["student - teacher"] = paired_difference(test_labels, s_preds["test"], teacher_preds["test"], n_classes)
    if result.baseline is not None:
        result.differences["student - baseline"] = paired_difference(test_labels, s_preds["test"], b_preds["test"], n_classes)

    # 4. more seeds: the same student and baseline trained again, only their scores kept
    if d.seeds > 1:
        seeds = _more_seeds(ctx, result, student_init, baseline_init_first, loss_args, batch_teacher, common, roles,
                            resume=resume)
        if seeds is None:
            return _cancelled(ctx, result, TrainResult(job="distill", status="cancelled", run_dir=str(ctx.run.root),
                                                       stop_reason="cancelled by the user"), "seeds")
        result.seeds = seeds

    result.seconds_per_epoch = {"distill": s_result.extra.get("seconds_per_epoch"),
                                "baseline": result.baseline.extra.get("seconds_per_epoch") if result.baseline else None}
    result.stop_reason = s_result.stop_reason
    result.wall_seconds = time.monotonic() - ctx.t0
    ctx.log(result.summary_text())
    finish_stage(ctx, result, data_fingerprint=prepared.report.fingerprint, model_dir=s_result.model_dir,
                 baseline_dir=result.baseline.model_dir if result.baseline else None)
    if is_main_process():
        phase_file.unlink(missing_ok=True)
    return result


def _teacher_outputs(ctx: JobContext, teacher, tokenizer, t_tokenized, prepared, teacher_id: str, device: str):
    """Load or compute the teacher's outputs; returns (TeacherOutputs, cache info for the result)."""
    cfg, d = ctx.config, ctx.config.distill
    sizes = {s: len(prepared.splits[s]) for s in ("train", *EVAL_SPLITS)}
    common = dict(batch_size=d.eval_batch_size, device=device, job=ctx.job, on_event=ctx.emit, cancel=ctx.cancel)
    if not d.cache_teacher:
        outputs = compute_teacher_outputs(teacher, tokenizer, t_tokenized, splits=EVAL_SPLITS, pooled_split=None,
                                          phase="teacher predictions", **common)
        return outputs, {"enabled": False}
    key = cache_key(prepared.report.fingerprint, teacher_id, cfg.data.max_length)
    path = cache_path(ctx.stage_dir, key)
    outputs = load_cache(path, sizes)
    if outputs is not None:
        total = sum(sizes.values())
        ctx.emit(Progress(ctx.job, phase=CACHE_PHASE, done=total, total=total, message="cache hit"))
        ctx.log(f"Teacher cache hit: reusing {path}")
        return outputs, {"enabled": True, "path": str(path), "key": key, "hit": True, "seconds": 0.0}
    started = time.monotonic()
    outputs = compute_teacher_outputs(teacher, tokenizer, t_tokenized, splits=("train", *EVAL_SPLITS),
                                      pooled_split="train", **common)
    if is_main_process():  # other ranks (torchrun) computed the same outputs for themselves
        save_cache(path, outputs, {"format": CACHE_FORMAT, "data_fingerprint": prepared.report.fingerprint,
                                   "teacher_identity": teacher_id, "max_length": str(cfg.data.max_length)})
    seconds = time.monotonic() - started
    ctx.log(f"Teacher outputs cached in {path} ({seconds:.1f} s)")
    return outputs, {"enabled": True, "path": str(path), "key": key, "hit": False, "seconds": seconds}


def _transfer_set(ctx: JobContext, teacher, t_tokenizer, student, texts: list[str], prepared, tokenized, teacher_id: str,
                  device: str) -> tuple[TransferSet, UnlabelledUse]:
    """The teacher labels the unlabelled texts (once, cached in chunks), the confidence filter, the label distribution."""
    cfg, d = ctx.config, ctx.config.distill
    report, max_length = prepared.report.unlabelled, cfg.data.max_length
    u_student = tokenize_texts(texts, student.tokenizer, max_length)
    u_teacher = u_student if student.same_tokenizer else tokenize_texts(texts, t_tokenizer, max_length)
    key = cache_key(report.fingerprint, teacher_id, max_length)
    folder = unlabelled_cache_dir(ctx.stage_dir, key)
    labels = label_unlabelled(teacher, t_tokenizer, u_teacher, folder, batch_size=d.eval_batch_size, device=device, job=ctx.job,
                              on_event=ctx.emit, cancel=ctx.cancel, save=is_main_process(),
                              metadata={"format": UNLABELLED_FORMAT, "texts_fingerprint": report.fingerprint,
                                        "teacher_identity": teacher_id, "max_length": str(max_length)})
    info = {**labels.info, "key": key}
    ctx.log(f"Teacher labels of the {len(texts)} unlabelled texts: " + (
        f"cache hit, reusing {folder}" if info["hit"] else
        f"{info['cached_chunks']} of {info['chunks']} chunks reused, the rest labelled in {info['seconds']:.1f} s ({folder})"))

    keep, top = confident_rows(labels.logits, d.unlabelled_min_confidence)
    if not len(keep):
        raise NTMMError(f"distill.unlabelled_min_confidence: none of the {len(texts)} unlabelled texts passes "
                        f"{d.unlabelled_min_confidence:g} (the teacher's highest top probability on them is {top.max():.3f}).",
                        hint="lower distill.unlabelled_min_confidence (0 uses every text)")
    names = prepared.label_names
    t_dist, y_dist, shift = label_shift(labels.logits[keep].argmax(dim=-1).numpy(), list(prepared.splits["train"]["label"]), names)
    n_labelled = len(tokenized["train"])
    use = UnlabelledUse(texts=len(texts), confident=len(keep), min_confidence=d.unlabelled_min_confidence,
                        per_epoch=per_epoch(d, n_labelled, len(keep)), labelled=n_labelled, weight=d.unlabelled_weight,
                        dropped=dict(report.dropped), mean_confidence=float(top[keep].mean()),
                        teacher_distribution=t_dist, train_distribution=y_dist, shift=shift,
                        warning=shift_warning(shift, t_dist, y_dist), cache=info)
    if d.unlabelled_min_confidence > 0:
        ctx.log(f"{len(keep)} of {len(texts)} unlabelled texts have a teacher confidence of at least {d.unlabelled_min_confidence:g}")
    if use.warning:
        ctx.log(use.warning, level="warning")
    dataset = mixed_dataset(tokenized["train"], u_student.select(keep.tolist()))
    lengths = ([len(x) for b in dataset.iter(batch_size=1024) for x in b["input_ids"]]  # streamed: the notes may be many
               if cfg.data.group_by_length else None)
    transfer = TransferSet(dataset=dataset, labelled=n_labelled, unlabelled=len(keep), per_epoch=use.per_epoch,
                           texts=[texts[i] for i in keep], logits=labels.logits[keep], pooled=labels.pooled[keep], lengths=lengths)
    return transfer, use


def _card_unlabelled(use: UnlabelledUse) -> dict[str, Any]:
    """What the student's ntmm.json and model card say about its unlabelled texts."""
    return {"texts": use.confident, "per_epoch": use.per_epoch, "weight": use.weight, "min_confidence": use.min_confidence}


def _train(ctx: JobContext, job: str, model, ckpt_dir: Path, resume_from: str | None, out_dir: Path | None, *,
           tokenizer, tokenized, label_names: list[str], device: str, precision: str, extra: dict[str, Any],
           plan: TrainingPlan, loss_fn=None, batch_teacher=None, seed: int | None = None,
           emit=None, transfer: TransferSet | None = None) -> tuple[TrainResult, dict[str, list[int]]]:
    """Train one student (distilled when ``loss_fn`` is given), evaluate it and save it (unless ``out_dir`` is None).

    ``transfer``: train on the labelled and the unlabelled rows (distilled students only).
    """
    from transformers import DataCollatorWithPadding

    from ..train.callbacks import EventCallback as TrainerEvents  # imports transformers: only when training

    cfg, d = ctx.config, ctx.config.distill
    emit = emit or ctx.emit
    seed = cfg.seed if seed is None else seed
    transfer = transfer if loss_fn is not None else None
    tracking = Tracking(ctx, d, job, resume=resume_from is not None)
    args = training_arguments(d, ckpt_dir, plan=plan, seed=seed, device=device,
                              precision=precision, group_by_length=cfg.data.group_by_length,
                              remove_unused_columns=False,  # keep "idx"; compute_loss pops it
                              **tracking.arguments())
    events = TrainerEvents(job, emit, ctx.cancel, device=device, precision=precision, run_dir=str(ctx.run.root),
                           resumed_from=resume_from, samples_per_step=plan.effective_batch)
    trainer = quiet_trainer(distill_trainer_class()(
        model=model, args=args, train_dataset=transfer.dataset if transfer else tokenized["train"],
        eval_dataset=tokenized["validation"], data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer,
        compute_metrics=metrics_fn(label_names), callbacks=[events, *early_stopping_callbacks(d)],
        distill_loss=loss_fn, teacher=batch_teacher, label_smoothing=d.label_smoothing,
        sampler=transfer.sampler(seed, plan.batch_size * plan.gradient_accumulation_steps) if transfer else None))
    with tracking:
        start_step = _checkpoint_step(resume_from)
        started = time.monotonic()
        train_out = trainer.train(resume_from_checkpoint=resume_from)
        train_seconds = time.monotonic() - started
        state = trainer.state
        if hasattr(model, LOSS_ATTR):  # the projection trains with the student but is not part of it
            delattr(model, LOSS_ATTR)
        result = TrainResult(job=job, status="cancelled" if events.cancelled else "completed", run_dir=str(ctx.run.root),
                             total_steps=state.max_steps, steps_done=state.global_step, device=device, precision=precision,
                             stop_reason=stop_reason(state, events.cancelled, d), train_seconds=train_seconds,
                             train_samples_per_second=train_out.metrics.get("train_samples_per_second"),
                             parameters=count_parameters(model), plan=plan)
        epochs_run = (state.global_step - start_step) / plan.steps_per_epoch
        result.extra["seconds_per_epoch"] = events.train_seconds / epochs_run if epochs_run > 0 else None
        if events.cancelled:
            result.checkpoint = last_checkpoint(ckpt_dir)
            ctx.log(f"{job}: cancelled at step {state.global_step}/{state.max_steps}; resume from {result.checkpoint}")
            tracking.cancelled = True
            return result, {}

        result.best_step = _best_step(state)
        preds: dict[str, list[int]] = {}
        split_logits = {}
        for split in EVAL_SPLITS:
            emit(Progress(job, phase=f"evaluating {split}", done=0, total=1))
            m, logits = split_metrics(trainer, tokenized[split], label_names)
            result.metrics[split] = m
            preds[split] = np.argmax(logits, axis=-1).tolist()
            split_logits[split] = (logits, tokenized[split]["labels"])
            emit(Evaluation(job, step=state.global_step, epoch=float(state.epoch or 0), split=f"final_{split}", metrics=m))
        tracking.log_final(trainer, result.metrics)
    if out_dir is None:
        return result, preds
    result.calibration = calibrate(split_logits)  # temperature fitted on validation, stored with the model
    ctx.log(f"{job}: calibration {result.calibration.summary()}")
    if is_main_process():
        save_model_atomically(model, tokenizer, out_dir, extra_files={"ntmm.json": {
            **{k: v for k, v in extra.items() if k != "classical_metrics"},
            "recipe": {f: getattr(d, f) for f in RecipeConfig.__dataclass_fields__}, **result.calibration.model_info()}},
            card=_model_card(ctx, job, result, extra, label_names, out_dir))
    result.model_dir = str(out_dir)
    return result, preds


def _more_seeds(ctx: JobContext, result: DistillResult, student_init, baseline_init, loss_args: dict[str, Any],
                batch_teacher, common: dict[str, Any], roles: dict[str, dict[str, Any]], *, resume: bool) -> SeedRuns | None:
    """Train the student (and the baseline) again with seeds seed+1, seed+2, ...; None when cancelled.

    Only scores are kept. Each run has its own checkpoints under ``distill/seeds/``, and finished seeds are
    recorded in ``seeds.json``, so a cancelled run resumes where it stopped. Their training curves are not
    drawn: their steps are reported as progress of the distill job.
    """
    from .losses import DistillLoss  # imports torch: only when training

    cfg, d, lay = ctx.config, ctx.config.distill, ctx.layout
    folder = lay.stage_dir(STAGE) / "seeds"
    record = folder / "seeds.json"
    done: dict[str, Any] = read_json(record) if resume and record.is_file() else {}
    runs = SeedRuns(seeds=[cfg.seed], student={k: [result.student.metrics["test"][k]] for k in ("macro_f1", "accuracy")},
                    baseline={k: [result.baseline.metrics["test"][k]] for k in ("macro_f1", "accuracy")} if result.baseline else {})
    for k in range(1, d.seeds):
        seed = cfg.seed + k
        for role, init in (("student", student_init), ("baseline", baseline_init)):
            if init is None:
                continue
            key = f"{seed}-{role}"
            if key not in done:
                job = "distill" if role == "student" else "baseline"
                ckpt = folder / f"seed-{seed}-{role}"
                resume_from = last_checkpoint(ckpt) if resume else None
                model = copy.deepcopy(init)
                loss_fn = None
                if role == "student":
                    loss_fn = DistillLoss(**loss_args)
                    if loss_fn.projection is not None:
                        model.add_module(LOSS_ATTR, loss_fn.to(next(model.parameters()).device))
                label = f"seed {k + 1} of {d.seeds}: {role}"
                part, _ = _train(ctx, job, model, ckpt, resume_from, None, extra={}, loss_fn=loss_fn,
                                 batch_teacher=batch_teacher if loss_fn else None, seed=seed,
                                 emit=_as_progress(ctx, label), **common, **roles[role])
                if part.status == "cancelled":
                    return None
                done[key] = {m: part.metrics["test"][m] for m in ("macro_f1", "accuracy")}
                if is_main_process():
                    atomic_write_json(record, done)
                    shutil.rmtree(ckpt, ignore_errors=True)
                ctx.log(f"{label}: test macro-F1 {done[key]['macro_f1']:.4f}")
            target = runs.student if role == "student" else runs.baseline
            for m in ("macro_f1", "accuracy"):
                target[m].append(done[key][m])
        runs.seeds.append(seed)
    return runs


def _as_progress(ctx: JobContext, label: str):
    """An on_event for a further seed's training: its steps become progress of the distill job, nothing else."""
    def emit(ev) -> None:
        if isinstance(ev, TrainLog):
            ctx.emit(Progress("distill", phase=label, done=ev.step, total=ev.max_steps, eta_seconds=ev.eta_seconds,
                              message=f"loss {ev.loss:.4f}" if ev.loss is not None else ""))
        elif isinstance(ev, LogMessage):
            ctx.emit(ev)
    return emit


def _model_card(ctx: JobContext, job: str, result: TrainResult, extra: dict[str, Any], label_names: list[str],
                out_dir: Path) -> str | None:
    """README.md for the student or baseline; a failure only logs (the model matters more)."""
    c = extra.get("construction", {})
    u = extra.get("unlabelled")
    how = (f"{_describe(c)}; " if c else "") + (
        "distilled from the teacher " + str(extra.get("teacher")) + f" (T={ctx.config.distill.temperature}, alpha={ctx.config.distill.alpha})"
        + (f", on the labelled texts and {u['texts']} unlabelled texts the teacher labelled ({u['per_epoch']} an epoch, "
           f"weight {u['weight']:g}, soft loss only)" if u else "")
        if job == "distill" else "trained on hard labels only (the no-distillation baseline)")
    try:
        return render_model_card(role="student" if job == "distill" else "baseline", config=ctx.config, metrics=result.metrics,
                                 base_model=str(extra.get("teacher", "")), construction=how,
                                 data_report={"label_names": label_names}, parameters=result.parameters, folder=out_dir,
                                 classical=extra.get("classical_metrics"), calibration=result.calibration)
    except Exception as exc:  # noqa: BLE001
        ctx.log(f"Could not write the model card: {type(exc).__name__}: {exc}", level="warning")
        return None


def _compare(result: DistillResult, name: str, preds: dict[str, list[int]], teacher_preds, metrics, teacher_metrics,
             label_names: list[str], prepared) -> None:
    """Agreement with the teacher (share, matrix, the test texts it moved) and per-class F1 gap (teacher minus model)."""
    result.agreement_matrix[name] = {s: agreement_matrix(teacher_preds[s], preds[s], len(label_names)) for s in EVAL_SPLITS}
    test = prepared.splits["test"]
    result.changed[name] = changed_examples(teacher_preds["test"], preds["test"], test["label"], test["text"], label_names,
                                            keys=("teacher_label", "model_label"))
    result.agreement[name] = {s: agreement(teacher_preds[s], preds[s]) for s in EVAL_SPLITS}
    result.per_class_agreement[name] = {s: per_class_agreement(teacher_preds[s], preds[s], label_names) for s in EVAL_SPLITS}
    result.f1_gap[name] = {s: {t["label"]: t["f1"] - m["f1"] for t, m in zip(teacher_metrics[s]["per_class"], metrics[s]["per_class"])}
                           for s in EVAL_SPLITS}


def _cancelled(ctx: JobContext, result: DistillResult, part: TrainResult, which: str) -> DistillResult:
    result.status = "cancelled"
    result.checkpoint = part.checkpoint
    result.stop_reason = f"{which}: {part.stop_reason}"
    if which == "baseline":
        result.baseline = part
    elif which == "student":
        result.student = part
    result.wall_seconds = time.monotonic() - ctx.t0
    finish_stage(ctx, result)
    return result


def _check_teacher_labels(teacher, source: str, label_names: list[str]) -> None:
    n = int(teacher.config.num_labels)
    if n != len(label_names):
        raise NTMMError(f"The teacher at {source} predicts {n} classes, but the data has {len(label_names)} "
                        f"({', '.join(label_names[:10])}).", hint="distil a teacher fine-tuned on this data")
    names = [str(teacher.config.id2label.get(i, "")) for i in range(n)]
    generic = all(nm == f"LABEL_{i}" for i, nm in enumerate(names))
    if not generic and names != [str(x) for x in label_names]:
        raise NTMMError(f"The teacher at {source} was trained on labels {names[:10]}, but the data has {label_names[:10]}.",
                        hint="distil a teacher fine-tuned on this data (same classes, same order)")


def _describe(c: dict[str, Any]) -> str:
    if c["kind"] == "shrink":
        return f"shrunk teacher, layers {c['layer_indices']} of {c.get('teacher_layers')}, hidden {c['hidden_size']}"
    if c["kind"] == "checkpoint":
        return (f"checkpoint {c['source']} ({c['num_layers']} layers, hidden {c['hidden_size']}"
                + ("" if c["same_tokenizer"] else ", own tokenizer") + ")")
    return f"fresh BERT, {c['num_layers']} layers, hidden {c['hidden_size']}"


def _checkpoint_step(path: str | None) -> int:
    if not path:
        return 0
    try:
        return int(Path(path).name.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


def _best_step(state) -> int | None:
    return _checkpoint_step(state.best_model_checkpoint) if state.best_model_checkpoint else None
