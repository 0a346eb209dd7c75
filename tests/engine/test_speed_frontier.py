"""The speed frontier's pieces on hand-made inputs: rounds and their verdict, the budget's choice,
the frontier, CPU capabilities, vocabulary pruning and the static student."""

from __future__ import annotations

import numpy as np
import pytest

from ntmm_engine.benchmark.budget import Budget, pareto_front, recommend
from ntmm_engine.benchmark.report import VariantBenchmark
from ntmm_engine.benchmark.rounds import analyse_rounds
from ntmm_engine.core.cpu import int8_capabilities

QUIET = {"load_1min": 0.1, "governors": ["performance"], "cpu_busy_seconds": 100.0}


def steady(ms: float, rounds: int = 5, n: int = 20, seed: int = 0) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return [list(ms * (1 + 0.01 * rng.standard_normal(n))) for _ in range(rounds)]


def quiet_after(seconds: float, own: float) -> dict:
    return {**QUIET, "cpu_busy_seconds": QUIET["cpu_busy_seconds"] + own}


# ------------------------------------------------------------------ rounds
def test_one_disturbed_variant_flags_the_timings():
    samples = {"teacher_fp32": steady(20.0), "student_fp32": steady(5.0, seed=1), "student_onnx_int8": steady(2.0, seed=2)}
    ok = analyse_rounds(samples, references=["teacher_fp32"], machine_before=QUIET, machine_after=quiet_after(10, 9.5),
                        own_cpu_seconds=9.5, wall_seconds=10, cores=2)
    assert ok.reliable and ok.message == "" and ok.other_cpu_share == 0.0
    assert ok.timings["student_onnx_int8"].spread < 0.05
    # another program woke up while student_fp32 ran in rounds 2 and 4
    disturbed = dict(samples, student_fp32=[r if i not in (1, 3) else [x * 3 for x in r] for i, r in enumerate(samples["student_fp32"])])
    bad = analyse_rounds(disturbed, references=["teacher_fp32"], machine_before=QUIET, machine_after=quiet_after(10, 9.5),
                         own_cpu_seconds=9.5, wall_seconds=10, cores=2)
    assert not bad.reliable
    assert any("student_fp32's rounds vary" in r for r in bad.reasons)
    assert not any("student_onnx_int8" in r for r in bad.reasons)  # the steady variants are not blamed
    assert bad.message.startswith("timings unreliable: ") and bad.message.endswith("close other programs and run again")


def test_a_busy_cpu_flags_the_timings_even_when_rounds_agree():
    samples = {"teacher_fp32": steady(20.0), "student_fp32": steady(5.0, seed=1)}
    busy_after = {"load_1min": 4.2, "governors": ["performance"], "cpu_busy_seconds": QUIET["cpu_busy_seconds"] + 19.0}
    a = analyse_rounds(samples, references=["teacher_fp32"], machine_before={**QUIET, "load_1min": 4.0}, machine_after=busy_after,
                       own_cpu_seconds=9.0, wall_seconds=10, cores=2)  # other programs: 10 of 20 CPU-seconds
    assert not a.reliable and a.other_cpu_share == pytest.approx(0.5)
    assert "the CPU was busy (load 4.2 on 2 cores" in a.message


def test_a_governor_change_flags_the_timings():
    samples = {"teacher_fp32": steady(20.0)}
    a = analyse_rounds(samples, machine_before={**QUIET, "governors": ["powersave"]}, machine_after=QUIET, cores=2)
    assert not a.reliable and "governor changed (powersave to performance)" in a.message


def test_speed_ups_come_from_paired_rounds():
    # The machine slows down 3x in rounds 2 and 3 for everyone: paired ratios stay at 4, steady.
    slow = [1, 3, 3, 1, 1]
    teacher = [[20.0 * f] * 10 for f in slow]
    student = [[5.0 * f] * 10 for f in slow]
    a = analyse_rounds({"teacher_fp32": teacher, "student_fp32": student}, references=["teacher_fp32"], cores=2)
    r = a.ratios["teacher_fp32"]["student_fp32"]
    assert r.per_round == pytest.approx([4.0] * 5) and r.median == pytest.approx(4.0) and r.spread == pytest.approx(0.0)
    # Unpaired, a variant measured in the slow rounds only would look 3x slower: pairing is by round position.
    shifted = [[5.0 * f] * 10 for f in (3, 3, 1, 1, 1)]
    b = analyse_rounds({"teacher_fp32": teacher, "student_fp32": shifted}, references=["teacher_fp32"], cores=2)
    rb = b.ratios["teacher_fp32"]["student_fp32"]
    assert rb.per_round == pytest.approx([20 / 15, 60 / 15, 60 / 5, 20 / 5, 20 / 5])
    assert rb.median == pytest.approx(float(np.median(rb.per_round))) and not b.reliable


# ------------------------------------------------------------------ budget
def table() -> list[VariantBenchmark]:
    mb = 1_000_000
    return [VariantBenchmark("teacher_fp32", latency_ms_median=25.0, macro_f1=0.62, size_bytes=91 * mb, peak_rss_bytes=900 * mb),
            VariantBenchmark("student_onnx_int8", latency_ms_median=4.0, macro_f1=0.64, size_bytes=16 * mb, peak_rss_bytes=700 * mb),
            VariantBenchmark("student_onnx_int8_pruned", latency_ms_median=3.9, macro_f1=0.64, size_bytes=8 * mb, peak_rss_bytes=None),
            VariantBenchmark("student_static", latency_ms_median=0.08, macro_f1=0.55, size_bytes=10 * mb, peak_rss_bytes=300 * mb),
            VariantBenchmark("classical_tfidf", latency_ms_median=0.5, macro_f1=0.49, size_bytes=5 * mb, peak_rss_bytes=250 * mb),
            VariantBenchmark("baseline_fp32", status="failed", message="boom")]


@pytest.mark.parametrize("budget, expected, within", [
    (Budget(), "student_onnx_int8_pruned", True),  # no limits: the most accurate, the faster of a tie
    (Budget(max_latency_ms=5), "student_onnx_int8_pruned", True),
    (Budget(max_latency_ms=5, max_peak_ram_mb=800), "student_onnx_int8", True),  # unmeasured peak RAM does not qualify
    (Budget(max_latency_ms=1), "student_static", True),
    (Budget(max_size_mb=6), "classical_tfidf", True),
    (Budget(min_macro_f1=0.63, max_size_mb=20), "student_onnx_int8_pruned", True),
    (Budget(max_latency_ms=0.05), "student_static", False),  # nothing qualifies: the fastest
    (Budget(min_macro_f1=0.9), "student_static", False),
])
def test_budget_picks_the_expected_variant(budget, expected, within):
    rec = recommend(table(), budget)
    assert (rec.variant, rec.within_budget) == (expected, within), rec.reason
    assert rec.reason.startswith(expected if within else "No variant meets the budget")
    assert "baseline_fp32" not in rec.qualifying


def test_nothing_qualifies_says_what_the_fastest_misses():
    rec = recommend(table(), Budget(max_latency_ms=0.05, min_macro_f1=0.6))
    assert not rec.within_budget and rec.variant == "student_static"
    assert "latency ≤ 0.05 ms" in rec.reason and "macro-F1 ≥ 0.6" in rec.reason and "fastest" in rec.reason


def test_unreliable_timings_recommend_nothing():
    rec = recommend(table(), Budget(max_latency_ms=5), unreliable="timings unreliable: the CPU was busy")
    assert rec.variant == "" and "unreliable" in rec.reason


def test_pareto_front():
    pts = [(r.variant, r.latency_ms_median, r.macro_f1) for r in table() if r.status == "ok"]
    assert pareto_front(pts) == ["student_static", "student_onnx_int8_pruned"]
    assert pareto_front([("a", 1, 0.5), ("b", 2, 0.7), ("c", 3, 0.6), ("d", 4, 0.8)]) == ["a", "b", "d"]


# ------------------------------------------------------------------ CPU
def test_int8_capabilities_from_cpuinfo():
    vnni = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n"
    c = int8_capabilities(vnni, machine="x86_64", system="Linux")
    assert (c["vnni"], c["avx512"], c["avx2"], c["fast_int8"], c["warning"]) == (True, True, True, True, "")
    old = int8_capabilities("flags : fpu sse avx2\n", machine="x86_64", system="Linux")
    assert old["vnni"] is False and "little speed-up" in old["warning"] and "no VNNI" in old["summary"]
    arm = int8_capabilities("Features\t: fp asimd asimddp\n", machine="aarch64", system="Linux")
    assert arm["arm_dotprod"] is True and arm["warning"] == ""
    unknown = int8_capabilities("", machine="x86_64", system="Linux")
    assert unknown["source"] == "unknown" and unknown["warning"] == "" and "unknown" in unknown["summary"]


# ------------------------------------------------------------------ vocabulary pruning and the static student
@pytest.fixture(scope="module")
def tiny_model(tiny_bert_dir):
    from testdata import make_rows
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    texts = [r["text"] for r in make_rows(20)] + ["Dyspnoea, tachycardia (HR 120/min) & SpO2 89%: über-urgent"]
    return (AutoModelForSequenceClassification.from_pretrained(tiny_bert_dir).eval(), AutoTokenizer.from_pretrained(tiny_bert_dir),
            texts)


def test_pruning_keeps_the_training_texts_exact_and_maps_unseen_pieces_to_the_nearest_kept_row(tiny_model, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification

    from ntmm_engine.distill.vocab import prune_vocabulary

    model, tok, texts = tiny_model
    pruned, table, vocab = prune_vocabulary(model, tok, texts, max_length=32)
    assert len(vocab.kept) < tok.vocab_size / 10 and vocab.texts_checked == len(texts) and len(table) == tok.vocab_size
    pruned.save_pretrained(tmp_path, safe_serialization=True)
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert reloaded.config.vocab_size == len(vocab.kept)
    enc = tok(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
    kept = torch.as_tensor(vocab.kept)
    assert torch.equal(kept[table[enc["input_ids"]]], enc["input_ids"])  # every training piece reads its own row
    with torch.inference_mode():
        a = model(**enc).logits
        b = reloaded(**{**enc, "input_ids": table[enc["input_ids"]]}).logits
    assert torch.allclose(a, b, atol=1e-5)
    # a piece no training text used reads the kept row nearest to its own embedding, not [UNK]
    unseen = tok.convert_tokens_to_ids("guitar")
    assert unseen not in vocab.kept
    w = torch.nn.functional.normalize(model.get_input_embeddings().weight.detach(), dim=1)
    assert int(table[unseen]) == int((w[kept] @ w[unseen]).argmax())
    assert vocab.details["dropped_read_nearest"] == tok.vocab_size - len(vocab.kept)


def test_static_student_round_trips_through_save_and_load(tiny_model, tmp_path):
    import torch

    from ntmm_engine.distill import static
    from ntmm_engine.distill.vocab import choose_vocabulary, pruned_tokenizer
    from ntmm_engine.inference.predictors import load_predictor

    model, tok, texts = tiny_model
    vocab = choose_vocabulary(tok, texts, 32)
    new_tok = pruned_tokenizer(tok, vocab, 32)
    emb = static.reduce_dim(static.token_vectors(model, tok, vocab.kept), 16, seed=0)
    assert emb.shape == (len(vocab.kept), 16)
    enc = new_tok(texts, padding=True, truncation=True, max_length=32, return_tensors="np")
    data = {"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": enc["attention_mask"].astype(np.int64),
            "labels": np.arange(len(texts)) % 3}
    weights, summary = static.train_static(emb, data, data, 3, static.StaticSettings(dim=16, hidden=8, epochs=3, min_steps=0),
                                           teacher_logits=np.random.default_rng(0).standard_normal((len(texts), 3)),
                                           metric=lambda y, p: float((y == p).mean()))
    assert summary["kd"] and 1 <= summary["best_epoch"] <= 3
    static.save_static(tmp_path, weights, new_tok, {"label_names": ["a", "b", "c"]})
    (tmp_path / "ntmm.json").write_text('{"variant": "static", "max_length": 32, "label_names": ["a", "b", "c"]}')
    loaded, config = static.load_static(tmp_path)
    assert config["dim"] == 16 and config["hidden"] == 8 and set(loaded) == set(weights)
    assert all(np.array_equal(loaded[k], weights[k]) for k in weights)
    assert not list(tmp_path.glob("*.bin")) and not list(tmp_path.glob("*.pkl"))  # safetensors and JSON only
    expected = static.numpy_logits(loaded, data["input_ids"], data["attention_mask"])
    module = static.static_module(loaded["embeddings"], 3, hidden=8).eval()
    module.load_state_dict({("embeddings.weight" if k == "embeddings" else k): torch.as_tensor(v) for k, v in loaded.items()})
    with torch.inference_mode():
        torch_logits = module(torch.as_tensor(data["input_ids"]), torch.as_tensor(data["attention_mask"])).numpy()
    np.testing.assert_allclose(torch_logits, expected, atol=1e-5)
    pred = load_predictor(tmp_path)  # the same Predictor interface as every variant (ONNX Runtime)
    assert pred.kind == "onnx" and pred.label_names == ["a", "b", "c"]
    np.testing.assert_allclose(pred.logits(texts, batch_size=7), expected, atol=1e-4)
    assert [p.label for p in pred.predict(texts[:3])] == [["a", "b", "c"][i] for i in expected[:3].argmax(-1)]


# ------------------------------------------------------------------ the run folder and the CLI
def test_recommendation_follows_the_current_budget_in_run_state_and_cli(tmp_path, capsys):
    from ntmm_engine.benchmark.report import BenchmarkResult
    from ntmm_engine.cli.main import main
    from ntmm_engine.core.config import ProjectConfig
    from ntmm_engine.core.runfolder import RunFolder, atomic_write_json
    from ntmm_engine.runs import RunState

    cfg = ProjectConfig(name="p", run_dir=str(tmp_path / "runs"))
    cfg.base_dir = str(tmp_path)
    for rel, name in (("teacher/model", "config.json"), ("optimize/student_onnx_int8", "model.onnx"), ("optimize/student_static", "model.onnx")):
        (cfg.run_path / rel).mkdir(parents=True)
        (cfg.run_path / rel / name).write_text("{}")
    rows = [r for r in table() if r.variant in ("teacher_fp32", "student_onnx_int8", "student_static")]
    atomic_write_json(cfg.run_path / "benchmark" / "result.json", BenchmarkResult(run_dir=str(cfg.run_path), rows=rows).to_dict())
    RunFolder(cfg.run_path).update_stage("benchmark", status="completed")
    cfg.save(tmp_path / "p.yaml")
    assert RunState(cfg).default_model()[0] == "student_onnx_int8"  # no budget: the most accurate is the Predict step's choice
    cfg.benchmark.budget_max_latency_ms = 1.0
    assert RunState(cfg).default_model()[0] == "student_static"
    assert main(["recommend", "--config", str(tmp_path / "p.yaml"), "--max-latency-ms", "1"]) == 0
    out = capsys.readouterr().out
    assert "Budget: latency ≤ 1 ms" in out and "Recommended: student_static" in out and "optimize/student_static" in out
    assert main(["recommend", "--config", str(tmp_path / "p.yaml"), "--max-latency-ms", "0.01"]) == 0
    assert "No variant meets the budget" in capsys.readouterr().out
