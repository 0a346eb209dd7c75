"""Where the repository's ``resources/`` folder (demo data, synonyms, style) lives."""

from __future__ import annotations

import os
from pathlib import Path


def resources_dir() -> Path:
    env = os.environ.get("NTMM_RESOURCES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "resources"  # ntmm_engine/core/ -> repository root


def demo_data_path() -> Path:
    return resources_dir() / "demo" / "demo_train.csv"


def user_data_dir() -> Path:
    """Per-user folder for the demo project, logs and caches (platformdirs)."""
    env = os.environ.get("NTMM_HOME")
    if env:
        return Path(env)
    from platformdirs import user_data_dir as udd
    return Path(udd("ntmm", "NTMM"))


def log_dir() -> Path:
    p = user_data_dir() / "logs"
    p.mkdir(parents=True, exist_ok=True)
    return p
