"""The classical stage: TF-IDF + logistic regression on the training split, scored on validation and test.

``run_classical(config, on_event, cancel)`` writes ``<run>/classical/model/``
(a model like the others: Predict, batch prediction and the benchmark use it)
and ``result.json`` with its metrics, intervals and per-example predictions,
which every later comparison pairs with its own. Trained on the training
split as read (without augmented copies), so it is the same classical model
whatever the transformer's recipe.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..core.config import ProjectConfig
from ..core.events import CancelToken, Evaluation, EventCallback, JobStarted, Progress
from ..core.jobframe import JobContext, finish_stage, is_main_process, job_frame
from ..core.results import Record
from ..core.runfolder import read_json
from ..data.prepare import PreparedData, prepare_data
from ..reports.calibration import Calibration, calibrate
from ..reports.metrics import classification_metrics
from .model import ClassicalModel

STAGE = "classical"
NAME = "classical_tfidf"
EVAL_SPLITS = ("validation", "test")


@dataclass
class ClassicalResult(Record):
    """The classical baseline on the project's data (also what ``result.json`` holds)."""

    status: str = "completed"
    run_dir: str = ""
    model_dir: str | None = None
    label_names: list[str] = field(default_factory=list)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # split -> metrics with intervals
    predictions: dict[str, list[int]] = field(default_factory=dict)   # split -> predicted label ids, for paired tests
    data_fingerprint: str = ""  # of the splits it was scored on (before augmentation)
    C: float = 0.0
    vocabulary: int = 0
    parameters: int = 0
    top_terms: dict[str, list[str]] = field(default_factory=dict)
    calibration: Calibration | None = None  # temperature fitted on validation; ECE/Brier/NLL before and after
    train_seconds: float = 0.0
    wall_seconds: float = 0.0

    def summary_text(self) -> str:
        from ..reports.intervals import format_score

        lines = [f"Classical baseline (TF-IDF 1-2-grams + logistic regression, C={self.C:g}, {self.vocabulary} n-grams)"]
        for split in EVAL_SPLITS:
            m = self.metrics.get(split) or {}
            lines.append(f"{split:>11}: accuracy {format_score(m.get('accuracy'), m.get('accuracy_ci'))}  "
                         f"macro-F1 {format_score(m.get('macro_f1'), m.get('macro_f1_ci'))}")
        if self.calibration is not None:
            lines.append(f"Calibration: {self.calibration.summary()}")
        return "\n".join(lines)


def eval_fingerprint(prepared: PreparedData) -> str:
    """The fingerprint of the un-augmented splits (augmentation changes only the training texts)."""
    return prepared.report.augmentation.get("original_fingerprint", prepared.report.fingerprint)


def fit_classical(prepared: PreparedData) -> tuple[ClassicalModel, ClassicalResult]:
    """Train on the training split (C chosen on validation) and score validation and test."""
    started = time.monotonic()
    s = prepared.splits
    model = ClassicalModel.fit(s["train"]["text"], s["train"]["label"], prepared.label_names,
                               s["validation"]["text"], s["validation"]["label"])
    result = ClassicalResult(label_names=list(prepared.label_names), data_fingerprint=eval_fingerprint(prepared),
                             C=model.C, vocabulary=len(model.vectorizer.vocabulary_), parameters=model.parameters,
                             top_terms=model.top_terms(), train_seconds=time.monotonic() - started)
    log_probs = {}
    for split in EVAL_SPLITS:
        log_probs[split] = (model.logits(s[split]["text"]), s[split]["label"])
        preds = log_probs[split][0].argmax(-1)
        result.predictions[split] = [int(p) for p in preds]
        result.metrics[split] = classification_metrics(s[split]["label"], preds, prepared.label_names, intervals=True)
    # A variant like the others: its log-probabilities are its logits, temperature-scaled on validation.
    result.calibration = calibrate(log_probs)
    return model, result


def run_classical(config: ProjectConfig, on_event: EventCallback | None = None,
                  cancel: CancelToken | None = None) -> ClassicalResult:
    """Fit, score and save the classical baseline; the data are checked on the way."""
    config.require_data()
    ctx = JobContext(STAGE, config, on_event, cancel, stage=STAGE)
    with job_frame(ctx):
        ctx.emit(JobStarted(ctx.job, total_steps=2, device="cpu", precision="fp64", run_dir=str(ctx.run.root)))
        ctx.emit(Progress(ctx.job, phase="reading data", done=0, total=2))
        prepared = prepare_data(config.data, seed=config.seed, base_dir=config.base_dir)
        ctx.cancel.raise_if_cancelled()
        ctx.emit(Progress(ctx.job, phase="fitting TF-IDF + logistic regression", done=1, total=2))
        model, result = fit_classical(prepared)
        ctx.cancel.raise_if_cancelled()
        ctx.begin_replacing()
        out = ctx.layout.variant_dir(NAME)
        if is_main_process():
            model.save(out, info={"data_fingerprint": result.data_fingerprint, "text_column": prepared.report.text_column,
                                  **(result.calibration.model_info() if result.calibration else {})})
        result.run_dir, result.model_dir = str(ctx.run.root), str(out)
        for split in EVAL_SPLITS:
            ctx.emit(Evaluation(ctx.job, split=f"final_{split}", metrics=result.metrics[split]))
        ctx.log(result.summary_text())
        result.wall_seconds = time.monotonic() - ctx.t0
        finish_stage(ctx, result, data_fingerprint=result.data_fingerprint, model_dir=str(out))
        return result


def classical_reference(ctx: JobContext, prepared: PreparedData) -> ClassicalResult:
    """The classical baseline a job compares itself with: the classical stage's result when it was scored on
    these very splits, else one fitted now in memory (seconds; nothing is written)."""
    fp = eval_fingerprint(prepared)
    if ctx.run.stage_status(STAGE) == "completed":
        try:
            saved = ClassicalResult.from_dict(read_json(ctx.layout.result_file(STAGE)))
        except (OSError, ValueError, TypeError):
            saved = None
        if saved is not None and saved.data_fingerprint == fp and saved.label_names == list(prepared.label_names):
            return saved
    ctx.emit(Progress(ctx.job, phase="fitting the classical baseline", done=0, total=1))
    _, result = fit_classical(prepared)
    ctx.log(f"Classical baseline fitted for comparison in {result.train_seconds:.1f} s (C={result.C:g})")
    return result


def classical_preview(config: ProjectConfig) -> ClassicalResult:
    """The classical baseline fitted in memory on the project's data, for the Data step and ``ntmm data``."""
    config.require_data()
    _, result = fit_classical(prepare_data(config.data, seed=config.seed, base_dir=config.base_dir))
    return result
