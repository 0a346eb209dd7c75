"""Experiment tracking (the recipe's ``report_to``): TensorBoard or MLflow, offline, inside the run folder.

The ``Trainer``'s own callbacks do the logging (``TensorBoardCallback``, ``MLflowCallback``): every
training log, with the distillation loss parts the ``DistillTrainer`` adds to it (``loss_kl``...),
and every evaluation. NTMM adds what they do not know: where to write (``<run>/tensorboard/<job>``,
the MLflow file store ``<run>/mlruns``, never a server), one MLflow run per job that it ends with
the job's outcome (and reopens on resume), and the final test metrics.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
from typing import Any

from ..core.config import RecipeConfig
from ..core.errors import Cancelled, ConfigError
from ..core.jobframe import JobContext, is_main_process

TOOLS = ("tensorboard", "mlflow")
FINAL_METRICS = ("accuracy", "macro_f1", "loss")


def check_report_to(recipe: RecipeConfig, section: str) -> None:
    """Refuse a ``report_to`` whose tool is not installed, before the job starts anything."""
    tool = recipe.report_to
    if tool in TOOLS and importlib.util.find_spec(tool) is None:
        raise ConfigError(f"{section}.report_to", f"{tool} is not installed",
                          hint=f"pip install 'ntmm[{tool}]', or set report_to: none")


class Tracking:
    """``report_to`` for one training job: Trainer arguments, the MLflow run, the final metrics.

    Use as a context manager around training and evaluation::

        tracking = Tracking(ctx, recipe, "teacher", resume=...)
        args = training_arguments(..., **tracking.arguments())
        with tracking:
            trainer.train(); ...; tracking.log_final(trainer, metrics)
    """

    def __init__(self, ctx: JobContext, recipe: RecipeConfig, job: str, *, resume: bool):
        self.tool = recipe.report_to if recipe.report_to in TOOLS else ""
        self.ctx, self.job, self.resume = ctx, job, resume
        self.cancelled = False  # set by the job: the MLflow run ends KILLED
        self._mlflow: Any = None

    @property
    def logdir(self):
        return self.ctx.layout.tensorboard_dir(self.job)

    def arguments(self) -> dict[str, Any]:
        """``TrainingArguments`` overrides: ``report_to`` and where TensorBoard writes."""
        if not self.tool:
            return {}
        return {"report_to": [self.tool], "logging_dir": str(self.logdir), "run_name": f"{self.ctx.config.name} {self.job}"}

    def __enter__(self) -> "Tracking":
        if not self.tool or not is_main_process():
            return self
        if self.tool == "tensorboard" and not self.resume:
            shutil.rmtree(self.logdir, ignore_errors=True)  # a fresh run starts a fresh curve, as its history.jsonl does
        if self.tool == "mlflow":
            self._start_mlflow()
        return self

    def _start_mlflow(self) -> None:
        # MLflow 3 refuses a file store unless this is set; a run folder needs no database or server.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # offline: no usage reports
        import mlflow

        lay = self.ctx.layout
        mlflow.set_tracking_uri(lay.mlruns_dir.resolve().as_uri())
        mlflow.set_experiment(self.ctx.config.name)
        if mlflow.active_run() is not None:  # left over by a job of this thread that failed outside this frame
            mlflow.end_run("FAILED")
        id_file = lay.mlflow_run_file(self.ctx.stage, self.job)
        run = None
        if self.resume and id_file.is_file():
            try:
                run = mlflow.start_run(run_id=json.loads(id_file.read_text(encoding="utf-8"))["run_id"])
            except Exception:  # the store was moved or cleaned: start a new run
                run = None
        if run is None:
            run = mlflow.start_run(run_name=self.job, tags={"ntmm.job": self.job, "ntmm.run_dir": str(lay.root)})
        id_file.parent.mkdir(parents=True, exist_ok=True)
        id_file.write_text(json.dumps({"run_id": run.info.run_id}), encoding="utf-8")
        self._mlflow = mlflow

    def log_final(self, trainer, metrics: dict[str, dict[str, Any]]) -> None:
        """The final test metrics (``test/accuracy``... in TensorBoard, ``test_accuracy``... in MLflow).

        Through ``trainer.log``, so they take the same path as every training log and reach whichever
        tool ``report_to`` names without code for each.
        """
        if not self.tool:
            return
        logs = {f"test_{k}": float(v) for k, v in (metrics.get("test") or {}).items()
                if k in FINAL_METRICS and isinstance(v, (int, float)) and math.isfinite(v)}
        if logs:
            trainer.log(logs)
        from transformers.integrations import TensorBoardCallback

        for cb in trainer.callback_handler.callbacks:  # the callback reopened its writer for this log after training
            if isinstance(cb, TensorBoardCallback) and cb.tb_writer is not None:
                cb.tb_writer.close()
                cb.tb_writer = None

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._mlflow is None:
            return
        mlflow, self._mlflow = self._mlflow, None
        status = ("KILLED" if self.cancelled or (exc_type is not None and issubclass(exc_type, Cancelled))
                  else "FAILED" if exc_type is not None else "FINISHED")
        flush = getattr(mlflow, "flush_async_logging", None)  # the callback logs asynchronously (MLflow >= 2.8)
        if flush is not None:
            flush()
        mlflow.end_run(status)
