"""The data check: read, clean and split the data, and say plainly what is wrong.

Every stage reads the data itself; the pipeline (and the GUI's "Run all")
runs this check first, so a bad file stops everything before any stage has
started, with the same message the Data step shows.
"""

from __future__ import annotations

from ..core.config import ProjectConfig
from ..core.events import CancelToken, EventCallback, JobFinished, JobStarted, LogMessage, ignore_event
from .prepare import DataReport, prepare_data
from .unlabelled import read_unlabelled

JOB = "data"


def check_data(config: ProjectConfig, on_event: EventCallback | None = None,
               cancel: CancelToken | None = None) -> DataReport:
    """The data report of the project's data; raises DataError / ConfigError naming what is wrong."""
    emit = on_event or ignore_event
    config.require_data()
    emit(JobStarted(JOB, total_steps=1))
    prepared = prepare_data(config.data, seed=config.seed, base_dir=config.base_dir)
    read_unlabelled(config.data, prepared, base_dir=config.base_dir, exclude=config.run_path)
    if cancel is not None:
        cancel.raise_if_cancelled()
    n = sum(sum(c.values()) for c in prepared.report.counts.values())
    u = prepared.report.unlabelled
    emit(LogMessage(JOB, text=f"Data: {n} texts in {len(prepared.label_names)} classes"
                    + (f", {u.used} unlabelled texts" if u is not None else "")))
    emit(JobFinished(JOB, status="completed"))
    return prepared.report
