"""Stage fingerprints: what a stage's results depend on, hashed.

A stage's fingerprint covers the identity of the data files (path, size and
a hash of the content), the data settings and the seed, the settings of its own
config section that change results (each field's ``result`` metadata in
:mod:`~ntmm_engine.core.config`), and the fingerprint of the stage before
it. Data settings only one stage reads (the unlabelled texts of distillation) count for that
stage alone. The pipeline skips a completed stage whose fingerprint is unchanged, and
resumes an interrupted one only with the same fingerprint.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from .config import ProjectConfig
from .layout import STAGES

# Config sections each stage depends on (besides data and seed), and the stage whose results it builds on
# (None: only the data). The classical baseline and the teacher both start from the data alone.
STAGE_SECTIONS = {"classical": (), "teacher": ("teacher",), "distill": ("distill",), "optimize": ("optimize",),
                  "benchmark": ("benchmark",)}
UPSTREAM = {"classical": None, "teacher": None, "distill": "teacher", "optimize": "distill", "benchmark": "optimize"}


def result_settings(section: Any, config: ProjectConfig | None = None) -> dict[str, Any]:
    """The fields of a config section that change what its stage produces.

    Data settings that only one stage reads (``stage`` metadata) are left to that stage
    (:func:`stage_inputs`); a field whose ``requires`` setting is empty in ``config`` does not count.
    """
    out = {}
    for f in dataclasses.fields(section):
        if f.metadata.get("stage"):
            continue
        affects = f.metadata.get("result", True)
        if callable(affects):
            affects = affects(section)
        if affects and f.metadata.get("requires") and config is not None and not _get(config, f.metadata["requires"]):
            affects = False
        if affects:
            out[f.name] = getattr(section, f.name)
    return out


def _get(config: ProjectConfig, dotted: str) -> Any:
    obj: Any = config
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


# (path, size, mtime_ns) -> content hash: the plan is asked for on every settings change in the app
_DIGESTS: dict[tuple[str, int, int], str] = {}


def content_digest(path: Path) -> str:
    """A short SHA-256 of a file's bytes, read once per (path, size, modification time)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _DIGESTS[key] = h.hexdigest()[:16]
    return _DIGESTS[key]


def file_identity(config: ProjectConfig, value: str) -> Any:
    """Path, size and content hash of a file, or of every file of a folder; a hub name as it is.

    The content, not the modification time: data copied, restored from a backup or unpacked again
    (new times, same bytes) must not make hours of finished training out of date."""
    p = config.resolve(value)
    try:
        if p.is_file():
            return [str(p), p.stat().st_size, content_digest(p)]
        if p.is_dir():
            return [str(p)] + sorted([str(f.relative_to(p)), f.stat().st_size, content_digest(f)]
                                     for f in p.rglob("*") if f.is_file())
        return value  # hub name
    except OSError as exc:  # unreadable folder: the identity says so, reading the data will say why
        return [str(p), f"unreadable: {exc.strerror or exc}"]


def data_identity(config: ProjectConfig) -> dict[str, Any]:
    """Cheap identity of the input files (path, size, mtime) plus the data settings that change results."""
    out: dict[str, Any] = {"settings": result_settings(config.data), "seed": config.seed}
    for key in ("train", "validation", "test", "label_names"):
        value = getattr(config.data, key)
        if value:
            out[key] = file_identity(config, value)
    return out


def stage_inputs(config: ProjectConfig, stage: str) -> dict[str, Any]:
    """The data settings only ``stage`` reads, with the identity of the files they name (the unlabelled texts)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config.data):
        if f.metadata.get("stage") == stage:
            value = getattr(config.data, f.name)
            out[f.name] = [file_identity(config, v) for v in value if v] if f.metadata.get("path") else value
    return out


def stage_fingerprints(config: ProjectConfig) -> dict[str, str]:
    fps: dict[str, str] = {}
    data = json.dumps(data_identity(config), sort_keys=True, default=str)
    for stage in STAGES:
        parts = {s: result_settings(getattr(config, s), config) for s in STAGE_SECTIONS[stage]}
        own = stage_inputs(config, stage)
        if any(own.values()):  # nothing set: the fingerprint stays what it was before these settings existed
            parts["data"] = own
        upstream = fps[UPSTREAM[stage]] if UPSTREAM[stage] else data
        blob = upstream + json.dumps(parts, sort_keys=True, default=str) + stage
        fps[stage] = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return fps
