"""Teacher fine-tuning on a tiny model: recipe wiring, events, schedule, cancel and resume."""

import json
import math
import re

import pytest

from ntmm_engine.core.config import ProjectConfig
from ntmm_engine.core.events import CancelToken, Evaluation, JobStarted, TrainLog
from ntmm_engine.core.runfolder import RunFolder, read_history
from ntmm_engine.train.recipe import TrainResult
from ntmm_engine.train.teacher import run_teacher
from ntmm_engine.train.plan import plan_training
from ntmm_engine.train.recipe import training_arguments


def test_trainer_receives_every_recipe_option(tmp_path):
    t = ProjectConfig().teacher
    t.learning_rate, t.weight_decay, t.adam_beta1, t.adam_beta2, t.adam_epsilon = 3e-4, 0.02, 0.8, 0.99, 1e-7
    t.warmup_ratio, t.lr_scheduler, t.label_smoothing, t.max_grad_norm = 0.2, "linear", 0.05, 0.5
    t.batch_size, t.gradient_accumulation_steps, t.epochs, t.eval_batch_size = 4, 3, 2, 7
    t.early_stopping_metric = "macro_f1"
    plan = plan_training(t, 100)  # 25 batches of 4 per epoch, 3 per optimizer step: 9 steps per epoch
    assert (plan.steps_per_epoch, plan.max_steps, plan.eval_steps) == (9, 18, 2)
    a = training_arguments(t, tmp_path, plan=plan, seed=7, device="cpu", precision="fp32")
    assert (a.learning_rate, a.weight_decay, a.adam_beta1, a.adam_beta2, a.adam_epsilon) == (3e-4, 0.02, 0.8, 0.99, 1e-7)
    assert (a.warmup_ratio, a.lr_scheduler_type.value, a.label_smoothing_factor, a.max_grad_norm) == (0.2, "linear", 0.05, 0.5)
    assert (a.per_device_train_batch_size, a.gradient_accumulation_steps, a.max_steps, a.per_device_eval_batch_size) == (4, 3, 18, 7)
    assert (a.eval_strategy.value, a.eval_steps, a.save_strategy.value, a.save_steps) == ("steps", 2, "steps", 2)
    assert a.optim.value == "adamw_torch" and a.seed == 7 and a.use_cpu
    assert a.load_best_model_at_end and a.metric_for_best_model == "eval_macro_f1" and a.greater_is_better
    assert not a.fp16 and not a.bf16 and a.group_by_length


def test_precision_auto_is_fp32_on_cpu_and_fp16_refused():
    from ntmm_engine.core.errors import ConfigError
    from ntmm_engine.train.recipe import choose_precision

    t = ProjectConfig().teacher
    assert choose_precision(t, "cpu") == "fp32"
    t.precision = "fp16"
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        choose_precision(t, "cpu")


def test_tiny_teacher_run_events_schedule_and_artifacts(tiny_config):
    cfg = tiny_config
    cfg.teacher.epochs = 4
    cfg.teacher.learning_rate = 2e-2
    cfg.teacher.early_stopping_patience = 0
    events = []
    result = run_teacher(cfg, events.append)
    assert result.status == "completed" and result.steps_done == result.total_steps == 24
    logs = [e for e in events if isinstance(e, TrainLog)]
    assert [e.step for e in logs] == list(range(1, 25))  # one per logging step
    assert all(e.loss is not None and e.learning_rate is not None and e.grad_norm is not None for e in logs)
    # warmup (10% of 24 steps = 3 steps) then cosine decay; a log at step k shows the
    # learning rate that step k used, i.e. the schedule at k - 1.
    peak = cfg.teacher.learning_rate
    for e in logs[:3]:
        assert e.learning_rate == pytest.approx(peak * (e.step - 1) / 3)
    for e in logs[3:]:
        progress = (e.step - 1 - 3) / (24 - 3)
        assert e.learning_rate == pytest.approx(peak * 0.5 * (1 + math.cos(math.pi * progress)), rel=1e-3, abs=1e-9)
    # loss drops on the easy task
    losses = [e.loss for e in logs]
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4 - 0.05
    started = [e for e in events if isinstance(e, JobStarted)]
    assert started and started[0].total_steps == 24 and started[0].device == "cpu"
    evals = [e for e in events if isinstance(e, Evaluation) and e.split == "validation"]
    # evaluated ~10 times in steps (every 3 of 24 steps), not once per epoch
    assert [e.step for e in evals] == list(range(3, 25, 3))
    assert {"loss", "accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(evals[0].metrics)
    for split in ("validation", "test"):
        assert {"accuracy", "macro_f1", "per_class", "confusion_matrix", "loss"} <= set(result.metrics[split])
    # run folder: model with label map, history, manifest, result
    run = cfg.run_path
    model_cfg = json.loads((run / "teacher" / "model" / "config.json").read_text())
    assert model_cfg["id2label"] == {"0": "cardio", "1": "gastro", "2": "neuro"}
    assert (run / "teacher" / "model" / "model.safetensors").is_file()
    hist = read_history(run / "teacher" / "history.jsonl")
    assert sum(1 for h in hist if h["kind"] == "TrainLog") == 24
    assert RunFolder(run).stage_status("teacher") == "completed"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["teacher"]["data_fingerprint"] and "packages" in manifest["environment"]
    assert (run / "config.yaml").is_file()
    info = json.loads((run / "teacher" / "model" / "ntmm.json").read_text())
    assert info["text_column"] == "text"  # prediction reads the same column
    # calibrated on validation: the temperature goes with the model, every predictor applies it
    c = result.calibration
    assert c.fitted_on == "validation" and info["temperature"] == c.temperature and set(c.splits) == {"validation", "test"}
    assert c.scores("validation").nll <= c.scores("validation", calibrated=False).nll + 1e-12
    from ntmm_engine.inference.predictors import load_predictor
    assert load_predictor(run / "teacher" / "model").temperature == c.temperature
    assert "Calibration: temperature" in result.summary_text()
    assert "## Calibration" in (run / "teacher" / "model" / "README.md").read_text()
    assert TrainResult.from_dict(json.loads((run / "teacher" / "result.json").read_text())) == result


def test_cancel_within_one_step_then_resume_to_same_step_count(tiny_config):
    cfg = tiny_config
    cancel = CancelToken()
    events = []

    def on_event(ev):
        events.append(ev)
        if isinstance(ev, TrainLog) and ev.step == 2:
            cancel.cancel()

    first = run_teacher(cfg, on_event, cancel)
    assert first.status == "cancelled"
    assert first.steps_done <= 3 and first.checkpoint and first.checkpoint.endswith(f"checkpoint-{first.steps_done}")
    assert RunFolder(cfg.run_path).stage_status("teacher") == "cancelled"
    assert not (cfg.run_path / "teacher" / "model").exists()  # nothing that looks finished

    resumed_events = []
    second = run_teacher(cfg, resumed_events.append, resume=True)
    assert second.status == "completed"
    assert second.total_steps == first.total_steps == second.steps_done
    steps = [e.step for e in resumed_events if isinstance(e, TrainLog)]
    assert steps[0] == first.steps_done + 1 and steps[-1] == second.total_steps
    assert [e for e in resumed_events if isinstance(e, JobStarted)][0].resumed_from == first.checkpoint


def test_resume_without_checkpoint_is_a_clear_error(tiny_config):
    from ntmm_engine.core.errors import NTMMError

    with pytest.raises(NTMMError, match="Nothing to resume"):
        run_teacher(tiny_config, resume=True)


def test_cli_teacher_prints_final_metrics(tiny_config, tmp_path, capsys):
    from ntmm_engine.cli.main import main

    tiny_config.teacher.epochs = 1
    path = tiny_config.save(tmp_path / "p.yaml")
    assert main(["teacher", "--config", str(path), "--quiet", "--set", "teacher.logging_steps=2"]) == 0
    out = capsys.readouterr().out
    # every score with its interval, the classical baseline on the same split beside it, and the plan
    assert "macro-F1 (95% interval)" in out and "planned steps" in out
    test_rows = [line for line in out.splitlines() if line.strip().startswith("test ")]
    assert [r.split()[1] for r in test_rows] == ["teacher", "classical"]
    assert all(re.search(r"\d\.\d{3} \(\d\.\d{3}–\d\.\d{3}\)", r) for r in test_rows)


def test_cli_reports_config_errors_without_traceback(tmp_path, capsys):
    from ntmm_engine.cli.main import main

    p = tmp_path / "bad.yaml"
    p.write_text("teacher: {learning_rate: -1}\n")
    assert main(["teacher", "--config", str(p)]) == 1
    err = capsys.readouterr().err
    assert "teacher.learning_rate" in err and "Traceback" not in err
