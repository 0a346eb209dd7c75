"""Reading a project's run folder for display (no Qt, no torch).

The engine's stage results are read tolerantly: the pages show whatever of
the documented keys is present, so a renamed key degrades to "-" instead of
breaking the window.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

try:  # the benchmark's variant names and folders (a light module: numpy only)
    from ntmm_engine.benchmark import KNOWN_VARIANTS
except ImportError:  # pragma: no cover - an installation without the benchmark job
    KNOWN_VARIANTS = {"teacher_fp32": "teacher/model", "student_fp32": "distill/student", "baseline_fp32": "distill/baseline",
                      "student_torch_int8": "optimize/student_torch_int8", "student_onnx": "optimize/student_onnx",
                      "student_onnx_int8": "optimize/student_onnx_int8"}

# Model variants in the order the Predict page prefers them (fastest first).
PREFERRED = ("student_onnx_int8", "student_onnx", "student_torch_int8", "student_fp32", "teacher_fp32", "baseline_fp32")


def read_json(path: Path) -> Any | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def stage_result(run_path: Path, stage: str) -> dict[str, Any] | None:
    data = read_json(Path(run_path) / stage / "result.json")
    return data if isinstance(data, dict) else None


def lr_find_file(run_path: Path) -> Path:
    """Where the engine's LR range test saves its curve (``ntmm lr-find`` and the GUI alike)."""
    return Path(run_path) / "lr_find" / "lr_find.json"


def has_checkpoint(run_path: Path, stage: str) -> bool:
    folder = Path(run_path) / stage
    return folder.is_dir() and any(p.is_dir() for p in folder.glob("**/checkpoint-*"))


def history(run_path: Path, stage: str) -> list[dict[str, Any]]:
    path = Path(run_path) / stage / "history.jsonl"
    if not path.is_file():
        return []
    from ntmm_engine.runfolder import read_history
    return read_history(path)


def pick(d: dict[str, Any] | None, *keys: str, default: Any = None) -> Any:
    """The first key present (and not None) in ``d``; dotted keys look into nested dicts."""
    if not isinstance(d, dict):
        return default
    for key in keys:
        obj: Any = d
        for part in key.split("."):
            obj = obj.get(part) if isinstance(obj, dict) else None
        if obj is not None:
            return obj
    return default


def split_metrics(m: Any) -> dict[str, Any] | None:
    """From a metrics blob pick the test metrics (or the blob itself if flat)."""
    if not isinstance(m, dict):
        return None
    if "macro_f1" in m or "accuracy" in m:
        return m
    for key in ("test", "final_test", "validation"):
        if isinstance(m.get(key), dict):
            return split_metrics(m[key])
    if isinstance(m.get("metrics"), dict):
        return split_metrics(m["metrics"])
    return None


def role_metrics(result: dict[str, Any] | None, role: str) -> dict[str, Any] | None:
    """Test metrics of ``role`` (teacher/student/baseline) from a distill result."""
    if not isinstance(result, dict):
        return None
    for candidate in (result.get(f"{role}_metrics"), result.get(role), pick(result, f"metrics.{role}")):
        m = split_metrics(candidate)
        if m is not None:
            return m
    return None


def is_model(p: Path) -> bool:
    return (p.is_file() and p.suffix == ".onnx") or (p.is_dir() and ((p / "config.json").is_file() or any(p.glob("*.onnx"))))


def model_candidates(run_path: Path) -> dict[str, Path]:
    """Variant name (as the benchmark names it) -> model folder found in the run folder."""
    run = Path(run_path)
    return {name: run / rel for name, rel in KNOWN_VARIANTS.items() if is_model(run / rel)}


def flagged_variants(run_path: Path) -> set[str]:
    """Variants the optimize stage flagged for low agreement with the fp32 student."""
    result = stage_result(run_path, "optimize") or {}
    names: set[str] = {str(n) for n in result.get("flagged") or []}
    for key in ("variants", "parity"):
        for row in variant_rows(result.get(key)):
            if row.get("flagged") or pick(row, "parity.flagged"):
                names.add(str(row.get("variant") or row.get("name")))
    return names | {f"student_{n}" for n in names if not n.startswith("student_")}


def variant_rows(obj: Any) -> list[dict[str, Any]]:
    """A list of per-variant dicts from either a list or a name -> dict mapping."""
    if isinstance(obj, list):
        return [r for r in obj if isinstance(r, dict)]
    if isinstance(obj, dict):
        rows = []
        for name, value in obj.items():
            if isinstance(value, dict):
                row = dict(value)
                row.setdefault("variant", name)
                rows.append(row)
        return rows
    return []


def best_model(run_path: Path) -> tuple[str, Path] | None:
    """The fastest variant that was not flagged (default model of the Predict page)."""
    found = model_candidates(run_path)
    flagged = flagged_variants(run_path)
    for name in PREFERRED:
        if name in found and name not in flagged:
            return name, found[name]
    return next(iter(found.items()), None)


def pipeline_plan(config) -> dict[str, str]:
    """What "Run all remaining steps" would do per stage: run | resume | skip (the engine's Pipeline plan)."""
    try:
        from ntmm_engine.pipeline import Pipeline
        return Pipeline(config).plan()
    except Exception:  # an unreadable data folder must not break the step list
        return {}


def benchmark_rows(result: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not isinstance(result, dict):
        return []
    for key in ("rows", "variants", "results"):
        rows = variant_rows(result.get(key))
        if rows:
            return rows
    return []


def fmt(value: Any, spec: str = ".4f") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return format(value, spec)
    return str(value)


def first_present(rows: Iterable[dict[str, Any]], *keys: str) -> str | None:
    for k in keys:
        if any(k in r for r in rows):
            return k
    return None
