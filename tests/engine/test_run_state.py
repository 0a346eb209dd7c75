"""The run folder's state as users meet it: failed starts keep finished results, fingerprints hash what matters,
resume only from what can resume, and every result reads back into its type."""

from __future__ import annotations

import json
import shutil

import pytest

from ntmm_engine.api import Pipeline, RunState, TrainResult, run_teacher
from ntmm_engine.core.errors import DataError
from ntmm_engine.core.fingerprints import stage_fingerprints
from ntmm_engine.core.runfolder import RunFolder


def _header_only(tmp_path):
    bad = tmp_path / "header_only.csv"
    bad.write_text("text,label\n")
    return bad


@pytest.fixture
def trained(tiny_config):
    """A project with a finished (tiny) teacher."""
    tiny_config.teacher.epochs = 1
    tiny_config.teacher.early_stopping_patience = 0
    result = run_teacher(tiny_config)
    assert result.status == "completed"
    return tiny_config, result


def test_a_failed_start_keeps_the_finished_stage(trained, tmp_path):
    cfg, first = trained
    run = RunFolder(cfg.run_path)
    before = run.stage_entry("teacher")
    model = cfg.run_path / "teacher" / "model" / "model.safetensors"
    mtime, history = model.stat().st_mtime_ns, (cfg.run_path / "teacher" / "history.jsonl").read_text()
    good = cfg.data.train
    cfg.data.train = str(_header_only(tmp_path))  # the user picks a broken file...
    with pytest.raises(DataError, match="header but no data"):
        run_teacher(cfg)
    after = run.stage_entry("teacher")
    # ...the finished teacher, its status, fingerprint, model, history and result stay as they were
    assert after["status"] == "completed" and after["fingerprint"] == before["fingerprint"]
    assert after["attempt"]["status"] == "failed" and "header but no data" in after["attempt"]["error"]
    assert model.stat().st_mtime_ns == mtime and (cfg.run_path / "teacher" / "history.jsonl").read_text() == history
    assert RunState(cfg).result("teacher") == first
    cfg.data.train = good  # ...and puts the good file back: nothing needs to run again
    assert Pipeline(cfg).plan()["teacher"] == "skip"
    assert RunState(cfg).status("teacher") == "completed"


def test_the_pipeline_checks_the_data_before_any_stage(tiny_config, tmp_path):
    tiny_config.data.train = str(_header_only(tmp_path))
    started = []
    with pytest.raises(DataError, match="header but no data"):
        Pipeline(tiny_config, started.append).run()
    assert RunFolder(tiny_config.run_path).manifest().get("stages", {}) == {}  # no stage was started
    assert not any(getattr(e, "job", "") == "teacher" for e in started)


def test_fingerprints_hash_only_settings_that_change_results(tiny_config):
    base = stage_fingerprints(tiny_config)
    # bookkeeping settings, and augmentation settings while augmentation is off
    tiny_config.teacher.logging_steps = 50
    tiny_config.teacher.save_total_limit = 7
    tiny_config.teacher.eval_batch_size = 3
    tiny_config.distill.cache_teacher = False
    tiny_config.data.augment_p = 0.5
    tiny_config.data.augment_ops = ["swap"]
    assert stage_fingerprints(tiny_config) == base
    # with augmentation on, its settings matter
    tiny_config.data.augment_copies = 1
    on = stage_fingerprints(tiny_config)
    assert on["teacher"] != base["teacher"]
    tiny_config.data.augment_p = 0.2
    assert stage_fingerprints(tiny_config)["teacher"] != on["teacher"]
    # a recipe setting changes the teacher and everything after it
    tiny_config.data.augment_copies = 0
    tiny_config.teacher.learning_rate = 1e-3
    lr = stage_fingerprints(tiny_config)
    assert all(lr[s] != base[s] for s in base if s != "classical") and lr["classical"] == base["classical"]


def _fake_checkpoint(folder, torn: bool) -> None:
    folder.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth"):
        (folder / name).write_text("{}")
    if not torn:  # the Trainer writes trainer_state.json last
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": 4}))


def test_resume_is_offered_only_from_a_complete_checkpoint(tiny_config):
    run = RunFolder(tiny_config.run_path)
    run.update_stage("teacher", status="cancelled", fingerprint=stage_fingerprints(tiny_config)["teacher"])
    ckpt = tiny_config.run_path / "teacher" / "checkpoints" / "checkpoint-4"
    _fake_checkpoint(ckpt, torn=True)  # killed while saving: no trainer_state.json
    assert not RunState(tiny_config).resumable("teacher")
    assert Pipeline(tiny_config).plan()["teacher"] == "run"
    shutil.rmtree(ckpt)
    _fake_checkpoint(ckpt, torn=False)
    assert RunState(tiny_config).resumable("teacher")
    assert Pipeline(tiny_config).plan()["teacher"] == "resume"


def test_results_read_back_only_when_the_stage_is_completed(trained):
    cfg, first = trained
    state = RunState(cfg)
    assert isinstance(state.result("teacher"), TrainResult) and state.result("distill") is None
    RunFolder(cfg.run_path).update_stage("teacher", status="failed")  # a later run failed while replacing it
    assert state.result("teacher") is None


def _fake_benchmark(cfg, rows):
    from ntmm_engine.api import BenchmarkResult, VariantBenchmark
    from ntmm_engine.core.runfolder import atomic_write_json

    result = BenchmarkResult(run_dir=str(cfg.run_path), rows=[VariantBenchmark(**r) for r in rows])
    atomic_write_json(cfg.run_path / "benchmark" / "result.json", result.to_dict())
    RunFolder(cfg.run_path).update_stage("benchmark", status="completed", finished="2030-01-02T03:04:05")


def test_runs_of_a_project_folder_side_by_side(trained, tmp_path):
    from ntmm_engine.api import find_runs, is_run_folder, summarize_run

    cfg, result = trained
    _fake_benchmark(cfg, [{"variant": "teacher_fp32", "latency_ms_median": 9.5, "macro_f1": 0.5, "size_bytes": 2**21},
                          {"variant": "student_onnx_int8", "latency_ms_median": 1.25, "macro_f1": 0.4, "size_bytes": 2**20},
                          {"variant": "broken", "status": "failed"}])
    other = cfg.run_path.parent / "runs-lr1e-4"
    shutil.copytree(cfg.run_path, other)
    (cfg.run_path.parent / "notes").mkdir()
    assert is_run_folder(cfg.run_path) and not is_run_folder(tmp_path)
    assert find_runs(cfg.run_path.parent) == sorted([cfg.run_path, other])
    s = summarize_run(cfg.run_path)
    assert s.project == cfg.name and s.stages["teacher"] == "completed" and s.stages["distill"] == "missing"
    assert s.test_macro_f1 == {"teacher": pytest.approx(result.metrics["test"]["macro_f1"])}
    assert (s.fastest, s.fastest_latency_ms, s.fastest_size_bytes) == ("student_onnx_int8", 1.25, 2**20)
    assert s.updated == "2030-01-02T03:04:05"
    empty = summarize_run(tmp_path / "nothing-here")
    assert empty.test_macro_f1 == {} and empty.fastest == ""
