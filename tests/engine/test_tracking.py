"""Experiment tracking (report_to): a tiny teacher run writes a TensorBoard event file and an MLflow run,
offline, into the run folder; both are read back with their own readers."""

from __future__ import annotations

import importlib.util

import pytest

from ntmm_engine.core.errors import ConfigError


def _teacher(cfg, tool: str):
    from ntmm_engine.train.teacher import run_teacher

    cfg.teacher.epochs = 1
    cfg.teacher.report_to = tool
    return run_teacher(cfg)


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard is not installed (pip install ntmm[tensorboard])")
def test_teacher_run_writes_a_tensorboard_event_file(tiny_config):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = _teacher(tiny_config, "tensorboard")
    logdir = tiny_config.run_path / "tensorboard" / "teacher"
    assert list(logdir.glob("events.out.tfevents.*"))
    acc = EventAccumulator(str(logdir))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/learning_rate", "eval/loss", "eval/macro_f1", "test/accuracy", "test/macro_f1"} <= tags, tags
    final = acc.Scalars("test/macro_f1")[-1].value
    assert final == pytest.approx(result.metrics["test"]["macro_f1"], abs=1e-6)
    assert len(acc.Scalars("train/loss")) == result.steps_done  # logging_steps=1: one point per step
    # a fresh run starts a fresh curve
    _teacher(tiny_config, "tensorboard")
    acc = EventAccumulator(str(logdir))
    acc.Reload()
    assert len(acc.Scalars("train/loss")) == result.steps_done


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="mlflow is not installed (pip install ntmm[mlflow])")
def test_teacher_run_writes_an_mlflow_run(tiny_config):
    from mlflow.tracking import MlflowClient

    result = _teacher(tiny_config, "mlflow")
    store = tiny_config.run_path / "mlruns"
    assert store.is_dir()  # a local file store inside the run folder, no server
    client = MlflowClient(tracking_uri=store.as_uri())
    exp = client.get_experiment_by_name(tiny_config.name)
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED" and run.info.run_name == "teacher"
    m = run.data.metrics
    assert m["test_macro_f1"] == pytest.approx(result.metrics["test"]["macro_f1"], abs=1e-6)
    assert m["test_accuracy"] == pytest.approx(result.metrics["test"]["accuracy"], abs=1e-6)
    assert "eval_macro_f1" in m and "loss" in m
    history = client.get_metric_history(run.info.run_id, "loss")
    assert len(history) == result.steps_done
    assert float(run.data.params["learning_rate"]) == tiny_config.teacher.learning_rate


def test_missing_tool_is_a_plain_error(tiny_config, monkeypatch):
    import ntmm_engine.train.tracking as tracking

    real = importlib.util.find_spec
    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    with pytest.raises(ConfigError, match=r"(?s)teacher.report_to: mlflow is not installed.*pip install 'ntmm\[mlflow\]'"):
        _teacher(tiny_config, "mlflow")
    assert not (tiny_config.run_path / "teacher" / "model").exists()


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard is not installed (pip install ntmm[tensorboard])")
def test_distill_logs_the_loss_parts_for_student_and_baseline(tiny_config, tiny_bert_factory):
    import shutil

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from ntmm_engine.distill.job import run_distill

    shutil.copytree(tiny_bert_factory(layers=2), tiny_config.run_path / "teacher" / "model")
    d = tiny_config.distill
    d.epochs, d.report_to = 1, "tensorboard"
    result = run_distill(tiny_config)
    tags = {}
    for job in ("distill", "baseline"):
        acc = EventAccumulator(str(tiny_config.run_path / "tensorboard" / job))
        acc.Reload()
        tags[job] = set(acc.Tags()["scalars"])
    assert {"train/loss_kl", "train/loss_cos", "train/loss_mse", "train/loss_ce", "test/macro_f1"} <= tags["distill"]
    assert "train/loss_ce" in tags["baseline"] and "train/loss_kl" not in tags["baseline"]
    assert result.student.metrics["test"]["macro_f1"] >= 0
