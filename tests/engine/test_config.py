"""Project config: defaults, YAML/JSON round-trip, validation errors, --set overrides."""

import dataclasses

import pytest

from ntmm_engine.core.config import ProjectConfig, field_help, load_config
from ntmm_engine.core.errors import ConfigError


def test_defaults_are_the_promised_recipe():
    t = ProjectConfig().teacher
    assert (t.adam_beta1, t.adam_beta2, t.adam_epsilon, t.weight_decay) == (0.9, 0.999, 1e-8, 0.01)
    assert (t.warmup_ratio, t.lr_scheduler, t.label_smoothing) == (0.1, "cosine", 0.1)
    assert (t.batch_size, t.gradient_accumulation_steps, t.epochs, t.max_grad_norm) == (16, "auto", "auto", 1.0)
    assert (t.precision, t.early_stopping_patience, t.early_stopping_metric) == ("auto", 3, "macro_f1")
    assert ProjectConfig().seed == 42


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip_exact(tmp_path, suffix):
    cfg = ProjectConfig(name="x")
    cfg.data.train = "train.csv"
    cfg.teacher.learning_rate = 3.5e-5
    cfg.distill.layer_indices = [0, 3, 5]
    cfg.optimize.variants = ["onnx"]
    path = cfg.save(tmp_path / f"p{suffix}")
    again = load_config(path)
    assert again == cfg
    assert again.to_dict() == cfg.to_dict()
    assert again.base_dir == str(tmp_path.resolve())


def test_every_field_has_help():
    cfg = ProjectConfig()
    for section in ("", "data", "teacher", "distill", "optimize", "benchmark"):
        obj = getattr(cfg, section) if section else cfg
        for f in dataclasses.fields(obj):
            if dataclasses.is_dataclass(getattr(obj, f.name)) or f.metadata.get("internal"):
                continue
            assert field_help(section, f.name), f"{section}.{f.name} has no help"


@pytest.mark.parametrize("text, field, words", [
    ("teacher: {learnin_rate: 0.1}", "teacher.learnin_rate", "unknown setting"),
    ("bogus: {}", "bogus", "unknown setting"),
    ("teacher: {learning_rate: -0.001}", "teacher.learning_rate", "out of range"),
    ("teacher: {warmup_ratio: 1.0}", "teacher.warmup_ratio", "[0.0, 1.0)"),
    ("teacher: {warmup_ratio: -0.1}", "teacher.warmup_ratio", "out of range"),
    ("teacher: {batch_size: 'big'}", "teacher.batch_size", "whole number"),
    ("teacher: {precision: fp8}", "teacher.precision", "choose one of"),
    ("distill: {temperature: 20}", "distill.temperature", "[1.0, 10.0]"),
    ("teacher: {group_by_length: 3}", "teacher.group_by_length", "unknown setting"),
    ("data: {group_by_length: 3}", "data.group_by_length", "true or false"),
    ("teacher: [1, 2]", "teacher", "mapping"),
    ("optimize: {variants: [onnx, tflite]}", "optimize.variants", "unknown variant"),
])
def test_validation_errors_name_field_and_range(tmp_path, text, field, words):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert err.value.field == field
    assert words in str(err.value)


def test_missing_data_path_is_a_clear_error():
    with pytest.raises(ConfigError, match="data.train"):
        ProjectConfig().require_data()


def test_yaml_scientific_notation_and_set_override(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("teacher:\n  learning_rate: 3e-5\n")
    cfg = load_config(p)
    assert cfg.teacher.learning_rate == 3e-5
    cfg.set_value("teacher.epochs", "2")
    cfg.set_value("data.text_column", "123")
    assert cfg.teacher.epochs == 2.0 and cfg.data.text_column == "123"
    with pytest.raises(ConfigError, match="out of range"):
        cfg.set_value("teacher.learning_rate", "-1")
    with pytest.raises(ConfigError, match="unknown setting"):
        cfg.set_value("teacher.nope", "1")


def test_not_a_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    p = tmp_path / "list.yaml"
    p.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(p)


def test_init_writes_loadable_starters(tmp_path):
    from ntmm_engine.cli.main import main

    assert main(["init", str(tmp_path / "a.yaml")]) == 0
    assert main(["init", "--demo", str(tmp_path / "demo")]) == 0
    demo = load_config(tmp_path / "demo" / "ntmm.yaml")
    assert demo.data.max_length == 128 and demo.data.train.endswith("demo_train.csv")
    assert main(["init", str(tmp_path / "a.yaml")]) == 1  # exists, no --force


def test_epochs_and_accumulation_take_auto_or_a_number(tmp_path):
    cfg = ProjectConfig()
    cfg.set_value("teacher.epochs", "4")
    cfg.set_value("teacher.gradient_accumulation_steps", "2")
    assert (cfg.teacher.epochs, cfg.teacher.gradient_accumulation_steps) == (4.0, 2)
    cfg.set_value("distill.epochs", "Auto")
    assert cfg.distill.epochs == "auto"
    again = load_config(cfg.save(tmp_path / "p.yaml"))
    assert (again.teacher.epochs, again.distill.epochs, again.distill.gradient_accumulation_steps) == (4.0, "auto", "auto")
    with pytest.raises(ConfigError, match="teacher.epochs: must be a number or auto"):
        cfg.set_value("teacher.epochs", "lots")
    with pytest.raises(ConfigError, match="out of range"):
        cfg.set_value("teacher.epochs", "0")
    with pytest.raises(ConfigError, match="whole number or auto"):
        cfg.set_value("teacher.gradient_accumulation_steps", "1.5")
