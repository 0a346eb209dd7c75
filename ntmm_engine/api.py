"""The engine's façade: the one module the desktop app and the CLI use, with ``core.events``,
``core.config`` and ``core.errors`` (import-linter contracts in ``pyproject.toml`` hold them to it).

Jobs (each takes a :class:`ProjectConfig`, an ``on_event`` callback and a
:class:`CancelToken`, writes into the run folder and returns a typed result):

    check_data, run_classical, run_teacher, find_lr, run_distill, run_optimize, run_benchmark, Pipeline

and :func:`export_bundle`, which writes a model's deployable folder (ONNX, tokenizer, predict.py).

Everything else is read-only or short: the run folder's state and results
(:class:`RunState`), the layout registry (:data:`STAGES`, :data:`VARIANTS`,
:class:`RunLayout`), data previews for the Data step, predictors and text
files for prediction, calibration records and explanations of predictions
(:func:`explain`), starter projects and the user folders.

Importing it is cheap: torch, transformers and datasets load when a job or a
predictor first needs them.
"""

from __future__ import annotations

from typing import Any, Callable

from .benchmark.budget import Budget, Recommendation, pareto_front, recommend
from .benchmark.job import run_benchmark
from .benchmark.report import BenchmarkResult, VariantBenchmark
from .benchmark.rounds import RoundsAnalysis
from .classical.job import ClassicalResult, classical_preview, run_classical
from .core.config import BUNDLED_MINILM, OPTIMIZE_VARIANTS, ProjectConfig, field_help, load_config
from .core.events import CancelToken
from .core.jobframe import is_main_process
from .core.layout import (
    CLASSICAL,
    PREFERRED,
    REFERENCE,
    RESUMABLE,
    STAGES,
    TEACHER,
    VARIANTS,
    RunLayout,
    Variant,
    is_model,
    variant_name,
)
from .core.models import model_layer_count
from .core.project import demo_config, demo_project_path, write_starter
from .core.resources import log_dir, resources_dir, user_data_dir
from .data.augment import preview as augment_preview
from .data.check import check_data
from .data.prepare import DataReport, UnlabelledReport
from .data.preview import DataAnalysis, DataPreview, UnlabelledPreview, analyse_data, preview_data, preview_unlabelled
from .distill.job import DistillResult, run_distill
from .distill.transfer import UnlabelledUse, student_plan
from .export.bundle import BundleResult, export_bundle
from .export.optimize import OptimizeResult, run_optimize
from .export.parity import VariantParity
from .inference.batch import GoldLabels, GoldScore, output_extras, predict_rows, score_rows
from .inference.explain import Explanation, WordAttribution, explain
from .inference.predictors import UNCERTAIN, Prediction, Predictor, load_predictor, model_text_column
from .inference.textfiles import (
    TextsFile,
    file_sheets,
    iter_texts_file,
    open_texts_file,
    read_texts_file,
    row_text,
    texts_file_columns,
)
from .inference.writers import OUTPUT_SUFFIXES, PredictionWriter
from .pipeline import STAGE_JOBS, Pipeline, PipelineResult
from .reports.calibration import Calibration, CalibrationScores, Reliability, RiskCoverage
from .reports.compare import BaselineCheck
from .reports.intervals import format_difference, format_score
from .runs import RESULT_TYPES, RunState, RunSummary, find_runs, is_run_folder, summarize_run
from .train.estimate import teacher_plan
from .train.lr_finder import LRFinderResult, find_lr, read_lr_curve
from .train.plan import TrainingPlan, format_duration, plan_training
from .train.recipe import TrainResult
from .train.teacher import run_teacher


def stage_job(stage: str) -> Callable[..., Any]:
    """The job function of a stage (``teacher`` -> :func:`run_teacher`)."""
    return STAGE_JOBS[stage]


def plan(config: ProjectConfig, force: str | None = None) -> dict[str, str]:
    """What "run all" would do per stage: run | resume | skip (raises NTMMError when it cannot tell)."""
    return Pipeline(config).plan(force)


def replaced_by(config: ProjectConfig, stage_plan: dict[str, str]) -> list[str]:
    """Stages whose completed results ``stage_plan`` would replace."""
    return Pipeline(config).replaced_by(stage_plan)


__all__ = [
    # jobs
    "check_data", "run_classical", "run_teacher", "find_lr", "run_distill", "run_optimize", "run_benchmark", "Pipeline", "stage_job",
    "plan", "replaced_by", "STAGE_JOBS",
    # results
    "DataReport", "UnlabelledReport", "UnlabelledUse", "ClassicalResult", "TrainResult", "TrainingPlan", "BaselineCheck", "LRFinderResult", "DistillResult", "OptimizeResult", "VariantParity", "BenchmarkResult",
    "VariantBenchmark", "PipelineResult", "RESULT_TYPES", "RoundsAnalysis",
    # choosing a variant
    "Budget", "Recommendation", "recommend", "pareto_front",
    # the run folder
    "RunState", "RunLayout", "STAGES", "RESUMABLE", "VARIANTS", "Variant", "PREFERRED", "REFERENCE", "TEACHER", "CLASSICAL",
    "variant_name", "is_model", "read_lr_curve", "RunSummary", "find_runs", "is_run_folder", "summarize_run",
    # data and models for the Data and Distill steps
    "DataPreview", "DataAnalysis", "preview_data", "analyse_data", "augment_preview", "model_layer_count",
    "UnlabelledPreview", "preview_unlabelled", "classical_preview", "plan_training", "student_plan", "teacher_plan", "format_duration", "format_score", "format_difference",
    # prediction
    "Prediction", "Predictor", "load_predictor", "model_text_column", "read_texts_file", "iter_texts_file",
    "texts_file_columns", "PredictionWriter", "OUTPUT_SUFFIXES", "TextsFile", "open_texts_file", "row_text", "file_sheets", "predict_rows",
    "GoldLabels", "GoldScore", "score_rows", "output_extras", "UNCERTAIN",
    # calibration, "not sure", explanations
    "Calibration", "CalibrationScores", "Reliability", "RiskCoverage", "Explanation", "WordAttribution", "explain",
    # deployment
    "export_bundle", "BundleResult",
    # projects, folders, process
    "ProjectConfig", "load_config", "field_help", "BUNDLED_MINILM", "OPTIMIZE_VARIANTS", "demo_config",
    "demo_project_path", "write_starter", "resources_dir", "log_dir", "user_data_dir", "CancelToken", "is_main_process",
]
