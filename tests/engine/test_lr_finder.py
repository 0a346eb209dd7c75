"""LR range test: schedule, smoothing, suggestion, divergence stop, cancel, untouched weights, CLI."""

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from ntmm_engine.core.config import ProjectConfig
from ntmm_engine.core.errors import Cancelled, ConfigError
from ntmm_engine.core.events import CancelToken, JobFinished, Progress
from ntmm_engine.train.lr_finder import find_lr, lr_find_path, lr_schedule, smooth_losses, suggest_lr


def folder_hash(folder) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.glob("*.safetensors")):
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture
def lr_config(tiny_config):
    t = tiny_config.teacher
    t.label_smoothing = 0.0
    return tiny_config


def test_schedule_smoothing_and_suggestion_on_a_known_curve():
    lrs = lr_schedule(1e-7, 1.0, 100)
    assert len(lrs) == 100 and lrs[0] == pytest.approx(1e-7) and lrs[-1] == pytest.approx(1.0)
    assert np.allclose(np.diff(np.log10(lrs)), 7 / 99)  # evenly spaced in log(LR)
    assert smooth_losses([2.0] * 5, 0.98) == pytest.approx([2.0] * 5)  # bias correction: no warm-up dip
    # a loss that falls from 2 to 1 around 1e-3 and explodes above 0.1: steepest descent at 1e-3
    x = np.log10(lrs)
    loss = 2 - 1 / (1 + np.exp(-4 * (x + 3))) + np.exp(3 * (x + 1))
    assert suggest_lr(lrs, loss.tolist()) == pytest.approx(1e-3, rel=0.2)
    assert suggest_lr(lrs[:4], loss[:4].tolist()) is None  # too few points
    with pytest.raises(ConfigError, match="start_lr < end_lr"):
        find_lr(ProjectConfig(), start_lr=1.0, end_lr=1e-3)


def test_cli_lr_find_suggests_a_sensible_rate_and_leaves_the_model_alone(lr_config, tmp_path, capsys):
    from ntmm_engine.cli.main import main

    base = lr_config.teacher.base_model
    before = folder_hash(Path(base))
    path = lr_config.save(tmp_path / "p.yaml")
    assert main(["lr-find", "--config", str(path), "--quiet", "--start-lr", "1e-5", "--end-lr", "1",
                 "--steps", "50"]) == 0
    out = capsys.readouterr().out
    assert "Suggested learning rate:" in out and "<- suggested" in out and "learning rate" in out
    saved = json.loads(lr_find_path(lr_config).read_text())
    n = saved["steps"]
    assert len(saved["lrs"]) == len(saved["losses"]) == len(saved["smoothed"]) == n and 10 <= n <= 50
    assert all(b > a for a, b in zip(saved["lrs"], saved["lrs"][1:]))
    assert all(math.isfinite(v) for v in saved["losses"] + saved["smoothed"])
    # this tiny BERT learns the easy task at 5e-3..5e-2 (the teacher tests train it at 2e-2)
    assert 1e-4 <= saved["suggestion"] <= 1e-1, saved["suggestion"]
    assert f"{saved['suggestion']:.2e}" in out
    assert folder_hash(Path(base)) == before  # the weights on disk are untouched
    assert not (lr_config.run_path / "teacher").exists()  # nothing else written


def test_divergence_stops_early_and_an_in_memory_model_is_not_changed(lr_config):
    import torch

    from ntmm_engine.core.models import load_classifier

    model = load_classifier(lr_config.teacher.base_model, id2label={0: "cardio", 1: "gastro", 2: "neuro"})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    events = []
    result = find_lr(lr_config, events.append, start_lr=1e-3, end_lr=1e3, num_steps=30, model=model, save=False)
    assert result.steps < 30 and result.stopped_reason.startswith("diverged")
    assert result.smoothed[-1] > 4 * min(result.smoothed)
    assert len(result.lrs) == len(result.losses) == len(result.smoothed) == result.steps
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not lr_find_path(lr_config).exists()
    prog = [e for e in events if isinstance(e, Progress) and e.phase == "lr range test"]
    assert prog and prog[-1].done == result.steps and prog[-1].total == 30
    assert isinstance(events[-1], JobFinished) and events[-1].summary["steps"] == result.steps


def test_cancel_stops_the_test(lr_config):
    cancel = CancelToken()
    events = []

    def on_event(ev):
        events.append(ev)
        if isinstance(ev, Progress) and ev.phase == "lr range test" and ev.done >= 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        find_lr(lr_config, on_event, cancel, num_steps=40)
    done = [e.done for e in events if isinstance(e, Progress) and e.phase == "lr range test"]
    assert max(done) <= 3
    assert isinstance(events[-1], JobFinished) and events[-1].status == "cancelled"
    assert not lr_find_path(lr_config).exists()
