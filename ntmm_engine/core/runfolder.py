"""Writing a run folder safely: atomic files and folders, checkpoints, run_dir checks, history, manifest.

Where things live in a run folder is :mod:`~ntmm_engine.core.layout`'s
business; this module makes every write either complete or absent: a
stage's ``result.json`` is written last and atomically, model folders are
built in a hidden staging folder and renamed into place, and the manifest
marks a stage ``completed`` only after its result exists.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .errors import ConfigError, NTMMError
from .events import Event, event_to_dict
from .layout import RunLayout

# errno values that mean "no room to write": a full disk, a quota, a read-only volume.
_NO_ROOM = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EROFS}


def write_error(path: str | Path, exc: OSError) -> NTMMError:
    """A plain message for an OSError while writing ``path`` (says so when the disk is full)."""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return NTMMError(f"Cannot write {path}: the disk is full ({exc.strerror or exc}).",
                         hint="free some disk space (old runs, checkpoints) and run it again; "
                              "nothing half-written was kept")
    if exc.errno == errno.EROFS:
        return NTMMError(f"Cannot write {path}: the disk is read-only.", hint="choose a run_dir on a writable disk")
    return NTMMError(f"Cannot write {path}: {exc.strerror or exc}")


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write via a temp file in the same folder, fsync, then rename over ``path``.

    A crash or a full disk leaves either the old file or the new one, never a
    torn one (the temp file is removed on failure).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(path, exc) from None
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
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(final)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".partial"))
    except OSError as exc:
        raise write_error(final, exc) from None
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
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno in _NO_ROOM:  # e.g. save_pretrained hit a full disk: say so plainly
            raise write_error(final, exc) from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_stale_staging(final: str | Path) -> None:
    """Delete the ``.<name>.*.partial`` / ``.<name>.old`` folders a killed process left beside ``final``.

    Only one job writes a run folder at a time, so any such folder is a
    leftover; it never looks like a model (hidden name) but wastes disk.
    """
    final = Path(final)
    if not final.parent.is_dir():
        return
    for p in final.parent.glob(f".{final.name}.*"):
        if p.is_dir() and (p.name.endswith(".partial") or p.name == f".{final.name}.old"):
            shutil.rmtree(p, ignore_errors=True)


# ------------------------------------------------------------ checkpoints
CHECKPOINT_FILES = ("trainer_state.json", "optimizer.pt", "scheduler.pt")  # + rng_state.pth (rng_state_<rank>.pth)


def checkpoint_is_complete(path: str | Path) -> bool:
    """True when a Trainer checkpoint folder was written to the end.

    ``Trainer._save_checkpoint`` writes into ``checkpoint-N/`` directly:
    weights, then optimizer/scheduler/RNG state, then ``trainer_state.json``
    last. A process killed in between leaves a folder without (a readable)
    ``trainer_state.json``, from which the Trainer cannot resume.
    """
    p = Path(path)
    if not (p / "config.json").is_file() or not (any(p.glob("*.safetensors")) or any(p.glob("pytorch_model*.bin"))):
        return False
    if not all((p / f).is_file() and (p / f).stat().st_size > 0 for f in CHECKPOINT_FILES):
        return False
    if not any(f.stat().st_size > 0 for f in p.glob("rng_state*.pth")):
        return False
    try:
        json.loads((p / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def newest_complete_checkpoint(folder: str | Path) -> str | None:
    """The highest-step ``checkpoint-N`` in ``folder`` that :func:`checkpoint_is_complete`; None if none."""
    import re

    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = []
    for p in folder.iterdir():
        m = re.fullmatch(r"checkpoint-(\d+)", p.name)
        if m and p.is_dir():
            found.append((int(m.group(1)), p))
    for _, p in sorted(found, reverse=True):
        if checkpoint_is_complete(p):
            return str(p)
    return None


# ------------------------------------------------------------ run_dir safety
def check_run_dir(run_path: str | Path, inputs: tuple[str | Path, ...] | list = ()) -> None:
    """Refuse a run folder NTMM must not write into (raises ConfigError naming ``run_dir``).

    The run folder gets checkpoints deleted and folders replaced in it, so it
    must not be the file-system root, the user's home folder itself, or a
    folder that directly holds one of the project's input files.
    """
    p = Path(run_path).expanduser()
    try:
        p = p.resolve()
    except (OSError, RuntimeError):  # a symlink loop: let the write fail with its own message
        return
    if p == Path(p.anchor):
        raise ConfigError("run_dir", f"{p} is the root of the file system; NTMM will not write its runs there.",
                          hint="use a folder of its own, e.g. runs (next to the project file)")
    try:
        home = Path.home().resolve()
    except (OSError, RuntimeError, KeyError):
        home = None
    if home is not None and p == home:
        raise ConfigError("run_dir", f"{p} is your home folder itself; NTMM needs a folder of its own for its runs.",
                          hint="use a subfolder, e.g. ~/ntmm-runs or runs next to the project file")
    for item in inputs:
        if not item:
            continue
        q = Path(item).expanduser()
        try:
            q = q.resolve()
        except (OSError, RuntimeError):
            continue
        if (q.is_file() and q.parent == p) or (q.is_dir() and q == p):
            raise ConfigError("run_dir", f"{p} directly holds the input {q.name}; NTMM replaces and deletes files in its run "
                                         "folder, so it must not share a folder with your data.",
                              hint="use a subfolder such as runs")


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


class RunFolder:
    """The project's run folder and its manifest.

    The manifest keeps, per stage, the state of the stage's *outputs*
    (``status``: completed, running = interrupted while replacing them,
    cancelled, failed) with the ``fingerprint`` of the inputs they were made
    from, and separately the ``attempt``: the newest start of the stage's
    job, whatever became of it. A job that fails before it starts replacing
    its outputs (bad data, a missing model) changes the attempt only, so the
    previous results, their status and their fingerprint stay as they were.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.layout = RunLayout(self.root)

    def stage_dir(self, stage: str) -> Path:
        return self.layout.stage_dir(stage)

    @property
    def manifest_path(self) -> Path:
        return self.layout.manifest

    def ensure_writable(self) -> None:
        """Create the run folder and prove it takes a file; refuses root and home (ConfigError).

        Called when a job starts; it also removes what a killed process left
        behind (:meth:`remove_leftovers`), since only one job writes a run
        folder at a time.
        """
        check_run_dir(self.root)
        if int(os.environ.get("RANK", "0")) == 0:  # under torchrun other ranks may already be writing
            self.remove_leftovers()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-test-{os.getpid()}"  # one per process: ranks start together
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            blocker = next((str(a) for a in [self.root, *self.root.parents] if a.is_file()), None)
            why = f"{blocker} is a file, not a folder" if blocker else (exc.strerror or str(exc))
            if exc.errno in _NO_ROOM:
                raise write_error(self.root, exc) from None
            raise NTMMError(f"run_dir: the run folder {self.root} is not writable ({why}).",
                            hint="choose another run_dir in the project settings") from None

    def remove_leftovers(self) -> list[Path]:
        """Delete hidden temp files (``.x.*.tmp``) and staging folders (``.x.*.partial``, ``.x.old``).

        Atomic writes create these beside their target and rename them into
        place; only a process killed mid-write leaves them. They never look
        like results (hidden names), but they waste disk.
        """
        removed: list[Path] = []
        if not self.root.is_dir():
            return removed
        for p in sorted(self.root.rglob(".*"), key=lambda q: len(q.parts), reverse=True):
            stale = p.name.endswith((".tmp", ".partial")) or (p.name.endswith(".old") and p.is_dir())
            if not stale or not p.exists():
                continue
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
        return removed

    def manifest(self) -> dict[str, Any]:
        try:
            data = read_json(self.manifest_path)
        except (OSError, json.JSONDecodeError):
            return {"stages": {}}
        return data if isinstance(data, dict) else {"stages": {}}

    def stage_entry(self, stage: str) -> dict[str, Any]:
        return dict(self.manifest().get("stages", {}).get(stage, {}))

    def update_stage(self, stage: str, **fields: Any) -> None:
        m = self.manifest()
        m.setdefault("stages", {}).setdefault(stage, {}).update(fields)
        m["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        atomic_write_json(self.manifest_path, m)

    def update_attempt(self, stage: str, **fields: Any) -> None:
        """Record the newest start of ``stage``'s job (status, started, finished, error, fingerprint)."""
        attempt = self.stage_entry(stage).get("attempt") or {}
        self.update_stage(stage, attempt={**attempt, **fields})

    def set_top(self, **fields: Any) -> None:
        m = self.manifest()
        m.update(fields)
        atomic_write_json(self.manifest_path, m)

    def stage_status(self, stage: str) -> str:
        """completed | running (interrupted) | cancelled | failed | incomplete | missing: the state of the outputs."""
        status = self.stage_entry(stage).get("status", "missing")
        # A stage is only complete if its result file exists too.
        if status == "completed" and not self.layout.result_file(stage).is_file():
            return "incomplete"
        return status

    def attempt(self, stage: str) -> dict[str, Any]:
        """The newest start of the stage's job ({} if none was recorded)."""
        return dict(self.stage_entry(stage).get("attempt") or {})
