"""Run folder layout, atomic writes, the event history and the manifest.

A run folder holds one project's artifacts::

    runs/<project>/
      manifest.json          stages, fingerprints, versions, device, times
      config.yaml            the config last used
      teacher/  model/ checkpoints/ history.jsonl result.json
      distill/  student/ baseline/ checkpoints/ history.jsonl result.json
      optimize/ <variant>/ ... parity.json
      benchmark/ benchmark.json benchmark.md

A stage's ``result.json`` is written last and atomically, so a folder that
has it is complete; the manifest only marks a stage ``completed`` after that.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .errors import NTMMError
from .events import Event, event_to_dict

MANIFEST = "manifest.json"


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write via a temp file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise NTMMError(f"Cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise NTMMError(f"Cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


@contextmanager
def staging_dir(final: str | Path) -> Iterator[Path]:
    """Yield a temp folder next to ``final``; on success it replaces ``final`` in one rename.

    Used for model folders so a crash or a full disk never leaves a folder that
    looks like a complete model.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".partial"))
    try:
        yield tmp
        _fsync_tree(tmp)
        if final.exists():
            old = final.with_name(f".{final.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())


class HistoryWriter:
    """Appends every event as one JSON line (the training monitor's source)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")

    def write(self, event: Event) -> None:
        self._fh.write(json.dumps(event_to_dict(event), default=_json_default) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def read_history(path: str | Path) -> list[dict[str, Any]]:
    """Read a history file, skipping a torn last line left by a crash."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def environment_info() -> dict[str, Any]:
    """Package versions and hardware, for manifests and benchmark reports."""
    import importlib.metadata as md

    versions = {}
    for pkg in ("torch", "transformers", "datasets", "optimum", "optimum-onnx", "onnxruntime", "onnx", "scikit-learn", "numpy"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    try:
        from importlib.metadata import version
        versions["ntmm"] = version("ntmm")
    except Exception:
        pass
    info = {"python": sys.version.split()[0], "platform": platform.platform(),
            "cpu": cpu_model(), "cpu_count": os.cpu_count(), "packages": versions}
    try:
        import torch
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except Exception:
        pass
    return info


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class RunFolder:
    """The project's run folder and its manifest."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def ensure_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise NTMMError(f"Run folder {self.root} is not writable: {exc.strerror or exc}",
                            hint="choose another run_dir in the project settings") from None

    def manifest(self) -> dict[str, Any]:
        try:
            return read_json(self.manifest_path)
        except (OSError, json.JSONDecodeError):
            return {"stages": {}}

    def update_stage(self, stage: str, **fields: Any) -> None:
        m = self.manifest()
        m.setdefault("stages", {}).setdefault(stage, {}).update(fields)
        m["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        atomic_write_json(self.manifest_path, m)

    def set_top(self, **fields: Any) -> None:
        m = self.manifest()
        m.update(fields)
        atomic_write_json(self.manifest_path, m)

    def stage_status(self, stage: str) -> str:
        st = self.manifest().get("stages", {}).get(stage, {})
        status = st.get("status", "missing")
        # A stage is only complete if its result file exists too.
        if status == "completed" and not (self.stage_dir(stage) / "result.json").is_file():
            return "incomplete"
        return status
