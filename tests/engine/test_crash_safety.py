"""Crash safety: SIGKILL ``ntmm pipeline`` at chosen points of every stage, run it again, repeat.

The kill points are deterministic. Some are reached by watching the stage's
``history.jsonl`` from outside (kill once the Nth TrainLog line is there);
the "while writing" points are reached from inside: a small launcher patches
one write (checkpoint optimizer state, the final model's safetensors, the
teacher cache, the ONNX export, the INT8 quantization, ``result.json``) so
that it writes half of its file and then SIGKILLs its own process.

After every kill the run folder must be honest: the manifest parses, a stage
is ``completed`` only with its ``result.json`` and a model that loads, every
visible model folder loads, and every checkpoint the Trainer finished keeps
its optimizer, scheduler and RNG state. The last run must finish everything.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from testdata import make_rows, write_csv
from ntmm_engine.core.runfolder import checkpoint_is_complete, newest_complete_checkpoint, read_history

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

# Runs inside the child process: patch one write so it tears its file and SIGKILLs the process.
LAUNCHER = textwrap.dedent('''
    import os, signal, sys

    POINT = os.environ.get("NTMM_KILL_AT", "")

    def die():
        sys.stdout.flush(); sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    def tear(path):
        """Cut a file to half its size: what a write interrupted half-way leaves."""
        size = os.path.getsize(path)
        with open(path, "r+b") as fh:
            fh.truncate(size // 2)

    def after(obj, name, when):
        """Wrap obj.name: run it, and if when(args) holds, tear the file it wrote and die."""
        real = getattr(obj, name)
        def wrapper(*args, **kwargs):
            target = when(*args, **kwargs)
            out = real(*args, **kwargs)
            if target:
                tear(target)
                die()
            return out
        setattr(obj, name, wrapper)

    if POINT == "teacher_checkpoint":  # Trainer._save_checkpoint: weights written, optimizer.pt torn
        import torch
        real_save = torch.save
        def save(obj, f, *a, **k):
            if str(f).endswith("optimizer.pt") and "teacher/checkpoints/checkpoint-12" in str(f):
                real_save(obj, f, *a, **k)
                tear(f)
                die()
            return real_save(obj, f, *a, **k)
        torch.save = save
    elif POINT in ("teacher_final_save", "student_final_save"):
        import transformers.modeling_utils as mu
        mark = "/teacher/.model." if POINT == "teacher_final_save" else "/distill/.student."
        after(mu, "safe_save_file", lambda t, f, *a, **k: f if mark in str(f) else None)
    elif POINT == "teacher_cache_save":
        import safetensors.torch as st
        after(st, "save_file", lambda t, f, *a, **k: f if "/distill/cache/" in str(f) else None)
    elif POINT == "onnx_export":
        import ntmm_engine.export.onnx as ox
        after(ox, "export_onnx", lambda src, out, **k: os.path.join(out, "model.onnx"))
    elif POINT == "onnx_int8":
        import onnxruntime.quantization as q
        after(q, "quantize_dynamic", lambda src, dst, **k: str(dst))
    elif POINT == "optimize_result":  # result.json: the temp file is half written when the process dies
        import ntmm_engine.core.runfolder as rf
        real_write = rf.atomic_write_text
        def write(path, text):
            if str(path).endswith("optimize/result.json"):
                tmp = os.path.join(os.path.dirname(str(path)), ".result.json.killed.tmp")
                with open(tmp, "w") as fh:
                    fh.write(text[: len(text) // 2])
                die()
            return real_write(path, text)
        rf.atomic_write_text = write
    elif POINT:
        sys.exit(f"unknown kill point {POINT}")

    from ntmm_engine.cli.main import main
    sys.exit(main(sys.argv[1:]))
''')

STAGES = ("teacher", "distill", "optimize", "benchmark")
MODEL_DIRS = {"teacher": ["teacher/model"], "distill": ["distill/student", "distill/baseline"],
              "optimize": ["optimize/student_torch_int8", "optimize/student_onnx", "optimize/student_onnx_int8"]}
TEXTS = ["chest pain and high blood pressure", "severe headache with seizure"]


# ------------------------------------------------------------------ harness
class Project:
    """A tiny project on disk and a way to run ``ntmm pipeline`` on it in a child process."""

    def __init__(self, root: Path, base_model: Path):
        from ntmm_engine.core.config import ProjectConfig

        self.root = root
        write_csv(root / "data.csv", make_rows(20))  # 60 rows -> 48 train -> 6 steps/epoch at batch 8
        cfg = ProjectConfig(name="crash", run_dir="runs")
        cfg.base_dir = str(root)
        cfg.data.train, cfg.data.max_length = "data.csv", 32
        for r in (cfg.teacher, cfg.distill):
            r.epochs, r.learning_rate, r.batch_size, r.gradient_accumulation_steps = 3, 5e-3, 8, 1
            r.logging_steps, r.device, r.early_stopping_patience = 1, "cpu", 0
            r.evaluations = 3  # one evaluation and checkpoint per epoch (the kill points count on checkpoint-6, -12)
        cfg.teacher.base_model = str(base_model)
        cfg.distill.num_layers = 1
        cfg.benchmark.num_samples, cfg.benchmark.warmup, cfg.benchmark.isolate = 5, 1, False
        cfg.benchmark.rounds, cfg.benchmark.time_budget_s = 2, 0.0
        cfg.optimize.variants = ["torch_int8", "onnx", "onnx_int8"]  # the kill points cover these three
        cfg.save(root / "p.yaml")
        (root / "launch.py").write_text(LAUNCHER)
        self.run_dir = root / "runs"
        self.launches: list[str] = []
        self._loaded: dict[tuple, bool] = {}

    def env(self, point: str) -> dict[str, str]:
        env = dict(os.environ, NTMM_KILL_AT=point, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
                   TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
        env["NTMM_HOME"] = str(self.root / "home")  # crash logs of the CLI stay in the test folder
        return env

    def start(self, point: str = "", command: tuple[str, ...] = ("pipeline",), label: str = "") -> subprocess.Popen:
        """Start ``ntmm <command>``; ``point`` is a kill point of the launcher ('' = none)."""
        n = len(self.launches)
        self.launches.append(label or point or "(no kill)")
        with open(self.root / f"launch{n}.log", "w") as log:
            return subprocess.Popen([sys.executable, str(self.root / "launch.py"), *command, "--config", str(self.root / "p.yaml"),
                                     "-q"], cwd=self.root, env=self.env(point), stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return (self.root / f"launch{len(self.launches) - 1}.log").read_text()[-3000:]

    def kill_inside(self, point: str, timeout: float = 240) -> None:
        """Run until the launcher kills itself at ``point``."""
        proc = self.start(point)
        rc = proc.wait(timeout=timeout)
        assert rc == -signal.SIGKILL, f"kill point {point} was not reached (rc={rc}):\n{self.log()}"

    def kill_after_log(self, job: str, step: int, timeout: float = 240) -> None:
        """Run until ``history.jsonl`` shows a TrainLog of ``job`` at ``step`` or later, then SIGKILL."""
        stage = "teacher" if job == "teacher" else "distill"
        history = self.run_dir / stage / "history.jsonl"
        t0 = time.time()  # only lines this launch wrote count (a resumed run appends to the history)
        proc = self.start(label=f"after {job} step {step}")
        while proc.poll() is None and time.time() - t0 < timeout:
            if history.is_file() and any(e.get("kind") == "TrainLog" and e.get("job") == job and e.get("step", 0) >= step
                                         and e.get("time", 0) >= t0 for e in read_history(history)):
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        rc = proc.wait(timeout=30)
        assert rc == -signal.SIGKILL, f"{job} never reached step {step} (rc={rc}):\n{self.log()}"

    def finish(self, timeout: float = 400) -> None:
        proc = self.start()
        rc = proc.wait(timeout=timeout)
        assert rc == 0, f"the run after the kills failed (rc={rc}):\n{self.log()}"

    # -- the invariants
    def manifest(self) -> dict:
        path = self.run_dir / "manifest.json"
        return json.loads(path.read_text()) if path.is_file() else {"stages": {}}  # never torn

    def status(self, stage: str) -> str:
        return self.manifest()["stages"].get(stage, {}).get("status", "missing")

    def loads(self, folder: Path) -> bool:
        """The folder is a model that loads and predicts (cached per folder version)."""
        from ntmm_engine.inference.predictors import load_predictor

        key = (str(folder), tuple(sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in folder.iterdir())))
        if key not in self._loaded:
            preds = load_predictor(folder).predict(TEXTS)
            self._loaded[key] = len(preds) == 2
        return self._loaded[key]

    def check(self) -> None:
        """No run folder claims a stage finished that did not; nothing visible is half-written."""
        manifest = self.manifest()
        for stage in STAGES:
            status = manifest["stages"].get(stage, {}).get("status", "missing")
            result = self.run_dir / stage / "result.json"
            if status == "completed":
                assert json.loads(result.read_text())["status"] == "completed", stage
                for rel in MODEL_DIRS.get(stage, []):
                    if stage != "optimize" or json.loads(result.read_text())["variants"].get(rel.split("student_")[-1], {}).get("path"):
                        assert self.loads(self.run_dir / rel), rel
            else:
                assert not result.exists(), f"{stage} is {status} but has a result.json ({self.launches})"
        for rels in MODEL_DIRS.values():  # any visible model folder is complete
            for rel in rels:
                folder = self.run_dir / rel
                if folder.exists():
                    assert self.loads(folder), f"{rel} is visible but does not load ({self.launches})"
        for ckpt in self.run_dir.rglob("checkpoint-*"):
            if ckpt.is_dir() and (ckpt / "trainer_state.json").is_file():
                assert checkpoint_is_complete(ckpt), f"{ckpt} has trainer_state.json but misses state files"
                for f in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "model.safetensors"):
                    assert (ckpt / f).is_file(), f"{ckpt} lacks {f}"

    def checkpoints(self, stage: str, sub: str = "checkpoints") -> list[str]:
        folder = self.run_dir / stage / sub
        return sorted(p.name for p in folder.glob("checkpoint-*") if checkpoint_is_complete(p)) if folder.is_dir() else []

    def final_checks(self) -> None:
        self.check()
        assert {s: self.status(s) for s in STAGES} == {s: "completed" for s in STAGES}, self.manifest()
        opt = json.loads((self.run_dir / "optimize" / "result.json").read_text())
        assert {v: e["status"] for v, e in opt["variants"].items()} == {"torch_int8": "ok", "onnx": "ok", "onnx_int8": "ok"}
        for rels in MODEL_DIRS.values():
            for rel in rels:
                assert self.loads(self.run_dir / rel), rel
        assert (self.run_dir / "benchmark" / "benchmark.json").is_file()
        leftovers = [p for p in self.run_dir.rglob(".*") if p.name.endswith((".partial", ".tmp", ".old"))]
        assert not leftovers, f"killed writes left files behind: {leftovers}"
        # Every stage wrote inside the run folder only: the project folder holds just what the test put there.
        ours = {"data.csv", "p.yaml", "launch.py", "runs"} | {f"launch{i}.log" for i in range(len(self.launches))}
        assert set(os.listdir(self.root)) <= ours | {"home"}, sorted(set(os.listdir(self.root)) - ours)


@pytest.fixture
def project(tmp_path, tiny_bert_dir) -> Project:
    return Project(tmp_path, tiny_bert_dir)


# ------------------------------------------------------------------ fast checks
def _fake_checkpoint(folder: Path, complete: bool = True) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"x" * 16)
    if complete:
        for f in ("optimizer.pt", "scheduler.pt", "rng_state.pth"):
            (folder / f).write_bytes(b"x")
        (folder / "trainer_state.json").write_text('{"global_step": 1}')
    return folder


def test_newest_complete_checkpoint_skips_torn_ones(tmp_path):
    good = _fake_checkpoint(tmp_path / "checkpoint-6")
    _fake_checkpoint(tmp_path / "checkpoint-12", complete=False)  # killed mid-save: no state files
    torn_state = _fake_checkpoint(tmp_path / "checkpoint-18")
    (torn_state / "trainer_state.json").write_text('{"global_st')  # killed while writing the state itself
    assert newest_complete_checkpoint(tmp_path) == str(good)
    assert newest_complete_checkpoint(tmp_path / "none") is None
    assert checkpoint_is_complete(good) and not checkpoint_is_complete(torn_state)


def test_last_checkpoint_skips_torn_checkpoints(tmp_path):
    from ntmm_engine.train.recipe import last_checkpoint

    good = _fake_checkpoint(tmp_path / "checkpoint-6")
    _fake_checkpoint(tmp_path / "checkpoint-12", complete=False)
    assert last_checkpoint(tmp_path) == str(good)


def test_job_start_removes_what_killed_writes_left(tmp_path):
    from ntmm_engine.core.runfolder import RunFolder

    run = RunFolder(tmp_path / "runs")
    (run.root / "teacher" / ".model.abc.partial").mkdir(parents=True)
    (run.root / "teacher" / ".model.abc.partial" / "model.safetensors").write_bytes(b"half")
    (run.root / "optimize").mkdir()
    (run.root / "optimize" / ".result.json.x1.tmp").write_text('{"sta')
    (run.root / "teacher" / "model").mkdir()  # a real model folder stays
    run.ensure_writable()
    left = sorted(str(p.relative_to(run.root)) for p in run.root.rglob("*"))
    assert left == ["optimize", "teacher", "teacher/model"]


# ------------------------------------------------------------------ the kill chain
@pytest.mark.slow
@pytest.mark.crashsafety  # slow, but CI runs it: the README's SIGKILL claim rests on it
def test_kill_and_rerun_every_stage(project: Project):
    """SIGKILL the pipeline at 3+ points of teacher, distillation and optimize; every rerun resumes honestly."""
    p = project
    # Teacher: mid-epoch before any checkpoint, after a checkpoint, and while saving the final model
    p.kill_after_log("teacher", 3)
    p.check()
    assert p.status("teacher") == "running"
    p.kill_after_log("teacher", 8)
    p.check()
    assert "checkpoint-6" in p.checkpoints("teacher")
    p.kill_inside("teacher_final_save")
    p.check()
    assert p.status("teacher") == "running" and not (p.run_dir / "teacher" / "model").exists()
    assert list((p.run_dir / "teacher").glob(".model.*.partial"))  # the torn save is hidden, not 'model'

    # Distillation: while caching teacher outputs, mid-training, while saving the student, during the baseline
    p.kill_inside("teacher_cache_save")
    p.check()
    # killed before distillation replaced anything: the stage has no outputs yet, only its start is recorded
    assert p.status("teacher") == "completed" and p.status("distill") == "missing"
    assert p.manifest()["stages"]["distill"]["attempt"]["status"] == "running"
    assert not list((p.run_dir / "distill" / "cache").glob("*.safetensors"))  # only the hidden temp file
    p.kill_after_log("distill", 8)
    p.check()
    assert "checkpoint-6" in p.checkpoints("distill")
    p.kill_inside("student_final_save")
    p.check()
    assert not (p.run_dir / "distill" / "student").exists()
    p.kill_after_log("baseline", 3)
    p.check()
    assert (p.run_dir / "distill" / "student").is_dir() and p.status("distill") == "running"

    # Optimize: while exporting ONNX, while quantizing it, while writing result.json
    p.kill_inside("onnx_export")
    p.check()
    assert p.status("distill") == "completed" and not (p.run_dir / "optimize" / "student_onnx").exists()
    p.kill_inside("onnx_int8")
    p.check()
    assert not (p.run_dir / "optimize" / "student_onnx_int8").exists()
    p.kill_inside("optimize_result")
    p.check()
    assert p.status("optimize") == "running"

    p.finish()
    p.final_checks()
    history = read_history(p.run_dir / "teacher" / "history.jsonl")
    resumed = [e for e in history if e.get("kind") == "JobStarted" and e.get("resumed_from")]
    assert resumed, "the teacher never resumed from a checkpoint"


@pytest.mark.slow
@pytest.mark.crashsafety  # slow, but CI runs it: the README's SIGKILL claim rests on it
def test_kill_while_writing_a_checkpoint(project: Project):
    """Killed between the weights and the optimizer state of checkpoint-12: the rerun must resume from checkpoint-6."""
    p = project
    p.kill_inside("teacher_checkpoint")
    p.check()
    assert p.checkpoints("teacher") == ["checkpoint-6"]
    assert (p.run_dir / "teacher" / "checkpoints" / "checkpoint-12").is_dir()  # torn, on disk
    proc = p.start(command=("teacher", "--resume"))
    assert proc.wait(timeout=240) == 0, p.log()
    p.check()
    assert p.status("teacher") == "completed"
    started = [e for e in read_history(p.run_dir / "teacher" / "history.jsonl") if e.get("kind") == "JobStarted"]
    assert started[-1]["resumed_from"].endswith("checkpoint-6")
