"""Benchmark job on a fake run folder of tiny models: rows, ratios, reports, isolation, sweep, cancel."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from testdata import make_rows, write_csv

from ntmm_engine.benchmark.job import _add_ratios, find_variants, run_benchmark
from ntmm_engine.benchmark.report import BenchmarkResult, VariantBenchmark
from ntmm_engine.core.config import ProjectConfig
from ntmm_engine.core.errors import ConfigError, NTMMError
from ntmm_engine.core.events import BenchmarkRow, CancelToken, Evaluation, event_from_dict, event_to_dict
from ntmm_engine.core.runfolder import read_json

ROW_KEYS = ("variant", "kind", "path", "status", "latency_ms_median", "latency_ms_p95", "throughput_per_s", "threads",
            "size_bytes", "size_note", "folder_bytes", "parameters", "peak_rss_bytes", "memory_method", "macro_f1",
            "accuracy", "agreement", "speedup_vs_teacher", "compression_vs_teacher", "throughput_ratio_vs_teacher",
            "speedup_vs_student", "compression_vs_student", "tokenize_ms_per_text", "load_seconds")


def make_project(root: Path, factory) -> ProjectConfig:
    from ntmm_engine.data.prepare import prepare_data

    root.mkdir(parents=True, exist_ok=True)
    cfg = ProjectConfig(name="tiny", run_dir=str(root / "runs"))
    cfg.base_dir = str(root)
    cfg.data.train = str(write_csv(root / "easy.csv", make_rows(20)))
    cfg.data.max_length = 32
    names = prepare_data(cfg.data, seed=cfg.seed, base_dir=cfg.base_dir).label_names
    for rel, role, layers in (("teacher/model", "teacher", 2), ("distill/student", "student", 1), ("distill/baseline", "baseline", 1)):
        dst = cfg.run_path / rel
        shutil.copytree(factory(layers=layers, seed=layers + len(role)), dst)
        (dst / "ntmm.json").write_text(json.dumps({"role": role, "max_length": 32, "label_names": names}))
    b = cfg.benchmark
    b.num_samples, b.warmup, b.throughput_batch_size, b.threads = 5, 1, 4, 1
    b.isolate = False
    b.rounds, b.time_budget_s = 3, 0.0
    return cfg


@pytest.fixture(scope="module")
def benchmarked(tmp_path_factory, tiny_bert_factory):
    from ntmm_engine.export.optimize import run_optimize

    cfg = make_project(tmp_path_factory.mktemp("bench"), tiny_bert_factory)
    run_optimize(cfg)
    b = cfg.benchmark
    b.sweep, b.sweep_variant = True, "student_onnx_int8"
    b.sweep_threads, b.sweep_batch_sizes, b.sweep_seq_lengths = [1, 0], [1, 4], [16, 32]
    events = []
    result = run_benchmark(cfg, events.append)
    return cfg, result, events


def test_rows_have_every_field_and_sane_ratios(benchmarked):
    cfg, result, events = benchmarked
    assert result.status == "completed"
    names = [r.variant for r in result.rows]
    assert names == ["teacher_fp32", "student_fp32", "baseline_fp32", "student_torch_int8", "student_onnx", "student_onnx_int8",
                     "student_onnx_int8_pruned", "student_static"]
    rows = [r.to_dict() for r in result.rows]
    by = {r["variant"]: r for r in rows}
    for r in rows:
        assert r["status"] == "ok", r
        missing = [k for k in ROW_KEYS if r.get(k) is None]
        assert not missing, (r["variant"], missing)
        assert r["latency_ms_median"] > 0 and r["latency_ms_p95"] >= r["latency_ms_median"] and r["throughput_per_s"] > 0
        assert r["threads"] == 1 and r["latency_samples"] == 5 * r["latency_rounds"] and 0 <= r["macro_f1"] <= 1
        assert r["latency_rounds"] == result.rounds.rounds >= 3 and len(r["latency_round_medians_ms"]) == r["latency_rounds"]
        assert r["memory_method"] == "rss_delta" and r["parameters"] > 0
    assert by["teacher_fp32"]["speedup_vs_teacher"] == 1.0 and by["teacher_fp32"]["compression_vs_teacher"] == 1.0
    # speed-ups are paired round by round: the median of the per-round ratios, with their range
    paired = result.rounds.ratios["teacher_fp32"]["student_onnx"]
    assert by["student_onnx"]["speedup_vs_teacher"] == paired.median and by["student_onnx"]["speedup_vs_teacher_range"] == [paired.low, paired.high]
    assert len(paired.per_round) == result.rounds.rounds
    assert result.rounds.machine_before["cpu_busy_seconds"] > 0 and "load_1min" in result.rounds.machine_after
    assert result.reliable == result.rounds.reliable and (result.unreliable_reason == "") == result.reliable
    assert result.cpu["summary"] and result.recommendation is not None
    assert (result.recommendation.variant == "") == (not result.reliable)
    assert by["student_fp32"]["agreement"] == 1.0 and by["student_onnx"]["agreement"] == 1.0
    assert by["student_onnx_int8"]["compression_vs_student"] > 2.5  # embeddings are INT8 too
    assert by["student_torch_int8"]["kind"] == "torch_int8" and "in memory" in by["student_torch_int8"]["size_note"]
    assert by["teacher_fp32"]["parameters"] > by["student_fp32"]["parameters"]
    env = result.environment
    assert env["cpu"] and env["cpu_count"] and "onnxruntime" in env["packages"]
    assert result.settings["threads"] == 1 and result.settings["test_examples"] == 6


def test_reports_written_with_sweep(benchmarked):
    cfg, result, _ = benchmarked
    stage = cfg.run_path / "benchmark"
    data = read_json(stage / "benchmark.json")
    assert data["rows"] == json.loads(json.dumps([r.to_dict() for r in result.rows])) and data["environment"]["cpu"]
    assert BenchmarkResult.from_dict(data) == result  # the file reads back into the same typed result
    assert read_json(stage / "result.json")["status"] == "completed"
    sweep = data["sweep"]
    assert sweep["variant"] == "student_onnx_int8"
    combos = {(p["threads"], p["batch_size"], p["seq_length"]) for p in sweep["points"]}
    assert {(b, s) for _, b, s in combos} == {(1, 16), (1, 32), (4, 16), (4, 32)}
    assert all(p["ms_per_sample"] > 0 and p["samples_per_s"] > 0 for p in sweep["points"])
    md = (stage / "benchmark.md").read_text()
    assert md.count("| student_onnx_int8 |") == 2 and "## Sweep: student_onnx_int8" in md  # its row, its calibration row
    assert "## Calibration (test split)" in md and "| ECE raw | ECE calibrated |" in md
    for r in result.rows:  # ECE, Brier and NLL of what a user gets, on the test split
        cal = r.calibration.scores("test")
        assert r.calibration.fitted_on in ("stored", "none") and 0 <= cal.ece <= 1 and cal.nll > 0
        assert sum(cal.reliability.counts) == result.settings["test_examples"]
    assert result.environment["cpu"] in md  # the machine is part of every report
    assert "student_onnx_int8" in result.summary_text()


def test_events_for_the_gui(benchmarked):
    _, result, events = benchmarked
    rows = [e for e in events if isinstance(e, BenchmarkRow)]
    assert [e.row["variant"] for e in rows if not e.final][0] == "student_fp32"  # the agreement reference runs first
    final = {e.row["variant"]: e.row for e in rows if e.final}
    assert list(final) == [r.variant for r in result.rows] and final["student_onnx"]["speedup_vs_teacher"] > 0
    assert {e.split for e in events if isinstance(e, Evaluation)} >= {"benchmark_student_onnx_int8", "benchmark_teacher_fp32"}
    again = event_from_dict(json.loads(json.dumps(event_to_dict(rows[0]))))
    assert isinstance(again, BenchmarkRow) and again.row == rows[0].row


def test_isolated_measurement_in_a_fresh_process(benchmarked):
    cfg, _, _ = benchmarked
    cfg = cfg.copy()
    cfg.benchmark.isolate, cfg.benchmark.sweep = True, False
    cfg.benchmark.variants = ["student_onnx_int8"]
    result = run_benchmark(cfg)
    (row,) = result.rows
    assert row.status == "ok" and row.memory_method == "peak_rss_fresh_process"
    assert row.peak_rss_bytes > row.baseline_rss_bytes > 0
    assert row.torch_loaded is False  # an ONNX deployment needs no torch
    assert row.speedup_vs_teacher is None  # teacher not measured in this run


def test_variant_selection_errors(benchmarked, tmp_path):
    cfg, _, _ = benchmarked
    cfg = cfg.copy()
    cfg.benchmark.variants = ["student_fp32", "nonsense"]
    with pytest.raises(ConfigError, match="neither a known variant"):
        find_variants(cfg)
    cfg.benchmark.variants = []
    assert "baseline_fp32" in find_variants(cfg)
    cfg.benchmark.variants = ["teacher", "onnx_int8"]  # short names, as the GUI lists them
    assert list(find_variants(cfg)) == ["teacher_fp32", "student_onnx_int8"]
    empty = cfg.copy()
    empty.run_dir, empty.benchmark.variants = str(tmp_path / "empty_runs"), []
    with pytest.raises(NTMMError, match="Nothing to benchmark"):
        find_variants(empty)
    empty.benchmark.variants = ["student_onnx"]
    with pytest.raises(ConfigError, match="run the optimize step first"):
        find_variants(empty)


def test_cancel_after_first_variant(benchmarked):
    cfg, _, _ = benchmarked
    cfg = cfg.copy()
    cfg.benchmark.sweep = False
    cfg.benchmark.variants = ["student_fp32", "student_onnx"]
    stage = cfg.run_path / "benchmark"
    for f in ("benchmark.json", "benchmark.md", "result.json"):
        (stage / f).unlink()
    cancel = CancelToken()
    result = run_benchmark(cfg, lambda e: cancel.cancel() if isinstance(e, BenchmarkRow) else None, cancel)
    assert result.status == "cancelled" and [r.variant for r in result.rows] == ["student_fp32"]
    assert not (stage / "benchmark.json").exists() and not (stage / "result.json").exists()


def test_ratio_maths():
    rows = [VariantBenchmark("teacher_fp32", latency_ms_median=10.0, throughput_per_s=100.0, size_bytes=400),
            VariantBenchmark("student_fp32", latency_ms_median=4.0, throughput_per_s=300.0, size_bytes=100),
            VariantBenchmark("student_onnx_int8", latency_ms_median=2.0, throughput_per_s=600.0, size_bytes=25),
            VariantBenchmark("baseline_fp32", status="failed")]
    _add_ratios(rows)
    q = rows[2]
    assert (q.speedup_vs_teacher, q.throughput_ratio_vs_teacher, q.compression_vs_teacher) == (5.0, 6.0, 16.0)
    assert (q.speedup_vs_student, q.throughput_ratio_vs_student, q.compression_vs_student) == (2.0, 2.0, 4.0)
    assert rows[3].speedup_vs_teacher is None
