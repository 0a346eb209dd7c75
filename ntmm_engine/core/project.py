"""Starter configs: ``ntmm init`` and the demo project."""

from __future__ import annotations

from pathlib import Path

from .config import ProjectConfig
from .errors import NTMMError
from .resources import demo_data_path, user_data_dir


def demo_config(folder: str | Path) -> ProjectConfig:
    """The built-in demo: synthetic clinical notes, bundled MiniLM, max_length 128.

    Sized to fine-tune in a few minutes on a laptop CPU.
    """
    cfg = ProjectConfig(name="ntmm-demo", run_dir="runs")
    cfg.base_dir = str(Path(folder).resolve())
    cfg.data.train = str(demo_data_path())
    cfg.data.max_length = 128
    cfg.teacher.epochs = 3
    cfg.teacher.learning_rate = 1e-4
    cfg.teacher.batch_size = 16
    cfg.teacher.gradient_accumulation_steps = 1
    cfg.teacher.logging_steps = 2
    cfg.distill.epochs = 4
    cfg.distill.learning_rate = 2e-4
    cfg.distill.gradient_accumulation_steps = 1
    cfg.distill.logging_steps = 2
    cfg.benchmark.num_samples = 50
    return cfg


def starter_config(folder: str | Path, data: str = "") -> ProjectConfig:
    cfg = ProjectConfig(name=Path(folder).resolve().name or "ntmm-project")
    cfg.base_dir = str(Path(folder).resolve())
    cfg.data.train = data
    return cfg


def write_starter(path: str | Path, demo: bool = False, force: bool = False) -> Path:
    """Write a starter config to ``path`` (a .yaml/.json file, or a folder for ntmm.yaml)."""
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        path = path / "ntmm.yaml"
    if path.exists() and not force:
        raise NTMMError(f"{path} already exists.", hint="use --force to overwrite it")
    cfg = demo_config(path.parent) if demo else starter_config(path.parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg.save(path)
    return path


def demo_project_path() -> Path:
    """The user's demo project file, created on first use."""
    path = user_data_dir() / "demo" / "ntmm.yaml"
    if not path.exists():
        write_starter(path, demo=True)
    return path
