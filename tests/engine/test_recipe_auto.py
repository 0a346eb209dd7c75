"""The auto recipe: training sized in optimizer steps for the data, explicit numbers respected."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from ntmm_engine.core.config import ProjectConfig
from ntmm_engine.train.plan import MAX_STEPS, MIN_STEPS, plan_training

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


def test_small_data_get_hundreds_of_updates_without_accumulation():
    t = ProjectConfig().teacher  # the defaults: epochs auto, accumulation auto, batch 16
    for n in (60, 347, 1000, 1733):
        plan = plan_training(t, n)
        assert plan.gradient_accumulation_steps == 1 and plan.max_steps == MIN_STEPS == 600, n
        assert plan.epochs == pytest.approx(600 / math.ceil(n / 16))
        assert plan.eval_steps == 60 and plan.evaluations == 10  # evaluated ten times, evenly in steps
        assert "floor" in plan.rule
    old = ProjectConfig().teacher
    old.epochs, old.gradient_accumulation_steps = 4, 4  # the old fixed default: 28 updates for 1733 texts... x4
    assert plan_training(old, 1733).max_steps == 4 * math.ceil(math.ceil(1733 / 16) / 4) == 112


def test_large_data_train_about_three_epochs_with_a_cap():
    t = ProjectConfig().teacher
    mid = plan_training(t, 20_000)
    assert (mid.gradient_accumulation_steps, mid.max_steps) == (1, 3 * 1250)
    big = plan_training(t, 100_000)
    assert big.gradient_accumulation_steps == 2 and big.max_steps == 3 * math.ceil(6250 / 2)
    huge = plan_training(t, 10_000_000)
    assert huge.gradient_accumulation_steps == 4 and huge.max_steps == MAX_STEPS and "capped" in huge.rule


def test_explicit_numbers_win():
    t = ProjectConfig().teacher
    t.epochs, t.gradient_accumulation_steps, t.batch_size = 4, 2, 8
    plan = plan_training(t, 100)  # 13 batches, 7 optimizer steps per epoch
    assert (plan.max_steps, plan.gradient_accumulation_steps, plan.epochs) == (28, 2, 4.0)
    assert plan.rule.startswith("explicit: 4 epochs")
    t.gradient_accumulation_steps = "auto"  # auto accumulation with explicit epochs
    assert plan_training(t, 100).max_steps == 4 * 13
    t.evaluations = 4
    assert plan_training(t, 100).eval_steps == 13


def test_short_texts_in_many_classes_get_several_hundred_steps(tmp_path):
    """The test dataset of the recipe benchmark's shape: ~1,000 short notes in 24 classes (demo generator)."""
    sys.path.insert(0, str(DEMO))
    import make_demo_data

    from ntmm_engine.api import teacher_plan
    from ntmm_engine.data.prepare import prepare_data

    rows = make_demo_data.generate_short()
    path = tmp_path / "short.csv"
    path.write_text("text,label\n" + "".join(f'"{t}",{lab}\n' for t, lab in rows), encoding="utf-8")
    cfg = ProjectConfig(run_dir=str(tmp_path / "runs"))
    cfg.base_dir = str(tmp_path)
    cfg.data.train = str(path)
    prepared = prepare_data(cfg.data, seed=cfg.seed, base_dir=cfg.base_dir)
    assert len(prepared.label_names) == 24 and 780 <= len(prepared.splits["train"]) <= 830
    plan = teacher_plan(cfg, measure=False)  # what a new project's default pipeline would do
    assert plan.max_steps >= 600 and plan.gradient_accumulation_steps == 1
    assert plan.epochs > 10  # the old default gave 4 epochs = 52 updates
