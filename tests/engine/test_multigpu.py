"""Distributed training through torchrun: 2 CPU processes (gloo), only rank 0 writes results."""

import json
import math
import shutil
import subprocess
import sys

import pytest

from ntmm_engine.core.runfolder import read_history
from ntmm_engine.train.teacher import run_teacher


@pytest.mark.slow
@pytest.mark.torchrun
def test_torchrun_two_process_distillation(tiny_config, tmp_path):
    if shutil.which("torchrun") is None:
        pytest.skip("torchrun is not on PATH")
    cfg = tiny_config
    cfg.teacher.epochs = 1
    run_teacher(cfg)  # single process
    cfg.distill.baseline = False
    cfg.distill.epochs = 2
    cfg.distill.batch_size = 4
    path = cfg.save(tmp_path / "p.yaml")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
         "-m", "ntmm_engine.cli", "distill", "--config", str(path), "--quiet"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    print(proc.stdout[-3000:], proc.stderr[-3000:])
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((cfg.run_path / "distill" / "result.json").read_text())
    # 48 training rows, 2 processes x batch 4 x accumulation 1 = 8 rows per optimizer step
    expected = math.ceil(48 / 8) * 2
    assert result["student"]["total_steps"] == expected == result["student"]["steps_done"]
    assert result["status"] == "completed"
    # one process wrote the history: each step logged once
    steps = [h["step"] for h in read_history(cfg.run_path / "distill" / "history.jsonl") if h["kind"] == "TrainLog"]
    assert steps == list(range(1, expected + 1))
    assert proc.stdout.count("Distillation completed") == 1  # only rank 0 printed the result
