"""Stage fingerprints: what a stage's results depend on, hashed.

A stage's fingerprint covers the identity of the data files (path, size,
modification time), the data settings and the seed, the settings of its own
config section that change results (each field's ``result`` metadata in
:mod:`~ntmm_engine.core.config`), and the fingerprint of the stage before
it. The pipeline skips a completed stage whose fingerprint is unchanged, and
resumes an interrupted one only with the same fingerprint.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from .config import ProjectConfig
from .layout import STAGES

# Config sections each stage depends on (besides data and seed), and the stage whose results it builds on
# (None: only the data). The classical baseline and the teacher both start from the data alone.
STAGE_SECTIONS = {"classical": (), "teacher": ("teacher",), "distill": ("distill",), "optimize": ("optimize",),
                  "benchmark": ("benchmark",)}
UPSTREAM = {"classical": None, "teacher": None, "distill": "teacher", "optimize": "distill", "benchmark": "optimize"}


def result_settings(section: Any) -> dict[str, Any]:
    """The fields of a config section that change what its stage produces."""
    out = {}
    for f in dataclasses.fields(section):
        affects = f.metadata.get("result", True)
        if callable(affects):
            affects = affects(section)
        if affects:
            out[f.name] = getattr(section, f.name)
    return out


def data_identity(config: ProjectConfig) -> dict[str, Any]:
    """Cheap identity of the input files (path, size, mtime) plus the data settings that change results."""
    out: dict[str, Any] = {"settings": result_settings(config.data), "seed": config.seed}
    for key in ("train", "validation", "test", "label_names"):
        value = getattr(config.data, key)
        if not value:
            continue
        p = config.resolve(value)
        try:
            if p.is_file():
                st = p.stat()
                out[key] = [str(p), st.st_size, st.st_mtime_ns]
            elif p.is_dir():
                out[key] = [str(p)] + sorted([f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in p.rglob("*") if f.is_file())
            else:
                out[key] = value  # hub name
        except OSError as exc:  # unreadable folder: the identity says so, reading the data will say why
            out[key] = [str(p), f"unreadable: {exc.strerror or exc}"]
    return out


def stage_fingerprints(config: ProjectConfig) -> dict[str, str]:
    fps: dict[str, str] = {}
    data = json.dumps(data_identity(config), sort_keys=True, default=str)
    for stage in STAGES:
        parts = {s: result_settings(getattr(config, s)) for s in STAGE_SECTIONS[stage]}
        upstream = fps[UPSTREAM[stage]] if UPSTREAM[stage] else data
        blob = upstream + json.dumps(parts, sort_keys=True, default=str) + stage
        fps[stage] = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return fps
