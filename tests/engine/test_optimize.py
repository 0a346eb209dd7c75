"""Optimize job on a fake run folder of tiny models: variants, parity maths, atomicity, cancel."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from testdata import make_rows, write_csv

from ntmm_engine.core.config import ProjectConfig
from ntmm_engine.core.errors import NTMMError
from ntmm_engine.core.events import CancelToken, Evaluation, JobFinished, Progress
from ntmm_engine.core.runfolder import RunFolder, atomic_write_json, read_json
from ntmm_engine.export.optimize import OptimizeResult, run_optimize
from ntmm_engine.export.parity import parity_report
from ntmm_engine.inference.predictors import load_predictor


def make_project(root: Path, factory, *, student: bool = True, calibrated: bool = False) -> ProjectConfig:
    """A project whose run folder holds a tiny teacher and student, as the earlier stages would leave it.

    ``calibrated``: as the teacher and distill stages leave them, each model has the temperature fitted on its
    validation logits in its ntmm.json, and the distill result records the teacher's test labels.
    """
    from ntmm_engine.classical.job import eval_fingerprint
    from ntmm_engine.data.prepare import prepare_data
    from ntmm_engine.reports.calibration import calibrate

    root.mkdir(parents=True, exist_ok=True)
    cfg = ProjectConfig(name="tiny", run_dir=str(root / "runs"))
    cfg.base_dir = str(root)
    cfg.data.train = str(write_csv(root / "easy.csv", make_rows(20)))
    cfg.data.max_length = 32
    prepared = prepare_data(cfg.data, seed=cfg.seed, base_dir=cfg.base_dir)
    names = prepared.label_names
    for rel, role, layers in (("teacher/model", "teacher", 2), ("distill/student", "student", 1))[:2 if student else 1]:
        dst = cfg.run_path / rel
        shutil.copytree(factory(layers=layers, seed=layers), dst)
        info = {"role": role, "max_length": 32, "label_names": names}
        (dst / "ntmm.json").write_text(json.dumps(info))
        if calibrated:
            model = load_predictor(dst)
            logits = {s: (model.logits(list(prepared.splits[s]["text"])), prepared.splits[s]["label"]) for s in ("validation", "test")}
            (dst / "ntmm.json").write_text(json.dumps({**info, **calibrate(logits).model_info()}))
            if role == "teacher":
                atomic_write_json(cfg.run_path / "distill" / "result.json", {
                    "status": "completed", "run_dir": str(cfg.run_path), "eval_fingerprint": eval_fingerprint(prepared),
                    "teacher_predictions": {"test": logits["test"][0].argmax(-1).tolist()}})
    return cfg


@pytest.fixture(scope="module")
def optimized(tmp_path_factory, tiny_bert_factory):
    cfg = make_project(tmp_path_factory.mktemp("opt"), tiny_bert_factory, calibrated=True)
    cfg.optimize.static_max_length = 64  # the static student reads more of a text than the transformers (32)
    events = []
    result = run_optimize(cfg, events.append)
    return cfg, result, events


def test_parity_maths_against_hand_computed_values():
    ref = np.array([[2, 0, 0], [0, 1, 0], [0, 0, 3], [1, 0, 0]], dtype=float)
    var = np.array([[1.5, 0, 0], [0, 1, 2], [0, 0, 3], [1, 0, 0]], dtype=float)
    labels, names = [0, 1, 2, 1], ["a", "b", "c"]
    texts = ["t0", "t1  with   spaces", "t2", "t3"]
    r = parity_report(ref, var, labels, texts, names, threshold=0.99)
    assert r["agreement"] == 0.75 and r["flagged"]
    assert r["per_class_agreement"] == {"a": 1.0, "b": 0.0, "c": 1.0}
    assert r["max_abs_logit_diff"] == 2.0 and r["mean_abs_logit_diff"] == pytest.approx(2.5 / 12)
    assert r["accuracy"] == 0.5  # variant predicts [0, 2, 2, 0] for labels [0, 1, 2, 1]
    assert r["changed_count"] == 1
    assert r["changed"] == [{"index": 1, "text": "t1 with spaces", "fp32_label": "b", "variant_label": "c", "true_label": "b"}]
    same = parity_report(ref, ref.copy(), labels, texts, names, threshold=0.99)
    assert same["agreement"] == 1.0 and same["max_abs_logit_diff"] == 0.0 and same["mean_abs_logit_diff"] == 0.0
    assert not same["flagged"] and same["changed"] == [] and set(same["per_class_agreement"].values()) == {1.0}


def test_every_variant_is_built_checked_and_loadable(optimized):
    cfg, result, events = optimized
    opt = cfg.run_path / "optimize"
    assert result.status == "completed" and set(result.variants) == {"torch_int8", "onnx", "onnx_int8", "onnx_int8_pruned", "static"}
    assert result.test_examples == 6 and result.reference.macro_f1 is not None
    assert OptimizeResult.from_dict(read_json(opt / "result.json")) == result  # result.json reads back into the same type
    for name, kind in (("torch_int8", "torch_int8"), ("onnx", "onnx"), ("onnx_int8", "onnx"), ("onnx_int8_pruned", "onnx")):
        v = result.variants[name].to_dict()
        assert v["status"] == "ok", v
        folder = Path(v["path"])
        assert folder == opt / f"student_{name}"
        info = json.loads((folder / "ntmm.json").read_text())
        assert info["variant"] == name and info["max_length"] == 32 and info["label_names"] == ["cardio", "gastro", "neuro"]
        assert json.loads((folder / "config.json").read_text())["id2label"] == {"0": "cardio", "1": "gastro", "2": "neuro"}
        assert (folder / "tokenizer.json").is_file()
        p = load_predictor(folder)  # each variant loads on its own
        assert p.kind == kind and p.label_names == info["label_names"]
        for key in ("accuracy", "macro_f1", "agreement", "per_class_agreement", "max_abs_logit_diff",
                    "mean_abs_logit_diff", "changed", "changed_count", "flagged", "size_bytes", "build_seconds"):
            assert v[key] is not None, key
    onnx, q = result.variants["onnx"].to_dict(), result.variants["onnx_int8"].to_dict()
    assert onnx["agreement"] == 1.0 and onnx["max_abs_logit_diff"] < 1e-4
    assert result.variants["torch_int8"].max_abs_logit_diff < 0.05 and q["max_abs_logit_diff"] < 0.05
    # INT8 of MatMul *and* Gather: the embedding-heavy tiny student shrinks about 4x
    assert onnx["size_bytes"] == (opt / "student_onnx" / "model.onnx").stat().st_size
    assert q["size_bytes"] < 0.35 * onnx["size_bytes"]
    # the fused graph is quantized, with the fused ops' weights (attention, embeddings) in INT8 too
    assert q["quantization"]["op_types"] == ["MatMul", "Attention", "Gather", "EmbedLayerNormalization"]
    assert q["quantization"]["fusion"]["fused"] and q["quantization"]["fusion"]["fused_ops"]["Attention"] == 1
    assert "in memory" in result.variants["torch_int8"].size_note
    assert not list(opt.glob("student_torch_int8/*.bin")) and not list(opt.glob("student_torch_int8/*.pt"))
    assert not [p.name for p in opt.iterdir() if p.name.startswith(".")]  # no staging leftovers
    parity = read_json(opt / "parity.json")
    assert parity["complete"] and set(parity["variants"]) == set(result.variants)
    assert read_json(opt / "result.json")["status"] == "completed"
    assert RunFolder(cfg.run_path).stage_status("optimize") == "completed"
    phases = {e.phase for e in events if isinstance(e, Progress)}
    assert {"exporting onnx", "quantizing torch_int8", "quantizing onnx_int8", "parity onnx_int8"} <= phases
    assert {e.split for e in events if isinstance(e, Evaluation)} == {"parity_fp32", "parity_torch_int8", "parity_onnx", "parity_onnx_int8",
                                                                      "parity_onnx_int8_pruned", "parity_static"}
    assert "onnx_int8" in result.summary_text() and isinstance(events[-1], JobFinished)


def test_every_variant_is_recalibrated_on_its_own_outputs_and_onnx_agrees_with_torch(optimized, tmp_path, capsys):
    from ntmm_engine.cli.main import main
    from ntmm_engine.reports.calibration import Calibration

    cfg, result, _ = optimized
    student = cfg.run_path / "distill" / "student"
    student_t = json.loads((student / "ntmm.json").read_text())["temperature"]
    assert result.reference.calibration.fitted_on == "stored" and result.reference.calibration.temperature == student_t
    assert result.classical.calibration is not None and set(result.classical.calibration.splits) == {"validation", "test"}
    texts = [r["text"] for r in make_rows(3, seed=7)]
    torch_probs = load_predictor(student).predict(texts)
    for name, v in result.variants.items():
        folder = Path(v.path)
        info = json.loads((folder / "ntmm.json").read_text())
        c = v.calibration
        assert c.fitted_on == "validation" and set(c.splits) == {"validation", "test"} and c.risk_coverage.thresholds
        assert info["temperature"] == c.temperature and Calibration.from_dict(info["calibration"]) == c  # stored with it
        assert c.scores("validation").nll <= c.scores("validation", calibrated=False).nll + 1e-12  # fitted: NLL not worse
        assert "## Calibration" in (folder / "README.md").read_text() and f"T = {c.temperature:.4f}" in (folder / "README.md").read_text()
        # the same calibrated probabilities from a fresh load_predictor and from ntmm predict
        fresh = load_predictor(folder).predict(texts)
        out = tmp_path / f"{name}.jsonl"
        assert main(["predict", "--model", str(folder), "--out", str(out), *texts]) == 0
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        for p, r in zip(fresh, rows):
            assert r["pred_label"] == p.label and max(abs(r[f"p_{n}"] - q) for n, q in p.probabilities.items()) < 1e-5
    capsys.readouterr()
    # ONNX fp32 has the student's logits, so its own temperature and its calibrated probabilities are the student's
    onnx = result.variants["onnx"].calibration
    assert onnx.temperature == pytest.approx(student_t, rel=1e-3)
    for p, q in zip(torch_probs, load_predictor(cfg.run_path / "optimize" / "student_onnx").predict(texts)):
        assert p.label == q.label and max(abs(p.probabilities[n] - q.probabilities[n]) for n in p.probabilities) < 1e-5
    assert "→" in result.summary_text()


def test_variants_are_compared_with_the_teachers_labels(optimized):
    cfg, result, _ = optimized
    n = result.test_examples
    for v in [result.reference, *result.variants.values()]:
        m = np.asarray(v.teacher_agreement_matrix)
        assert m.shape == (3, 3) and m.sum() == n and v.teacher_agreement == pytest.approx(np.trace(m) / n)
        assert len(v.teacher_changed) == n - np.trace(m)
        assert all({"teacher_label", "variant_label", "true_label", "text"} <= set(c) for c in v.teacher_changed)
    for v in result.variants.values():  # and with the fp32 student's, beside the examples whose label changed
        m = np.asarray(v.agreement_matrix)
        assert m.sum() == n and n - np.trace(m) == v.changed_count == len(v.changed)


def test_onnx_graphs_have_dynamic_axes_and_int8_embeddings(optimized):
    import onnx
    import onnxruntime as ort

    cfg, _, _ = optimized
    opt = cfg.run_path / "optimize"
    sess = ort.InferenceSession(str(opt / "student_onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    assert all(isinstance(d, str) for i in sess.get_inputs() for d in i.shape)  # batch and sequence are symbolic
    m = onnx.load(str(opt / "student_onnx_int8" / "model.onnx"))
    ops = {n.op_type for n in m.graph.node}
    assert "MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops
    vocab = load_predictor(opt / "student_onnx").tokenizer.vocab_size
    eight_bit = (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)  # ORT stores Gather tables as uint8
    int8_embeddings = [i for i in m.graph.initializer if i.data_type in eight_bit and i.dims and i.dims[0] == vocab]
    assert int8_embeddings, "the word-embedding matrix (Gather) was not quantized"


def test_fused_graph_beside_the_unfused_one(optimized, tmp_path):
    import onnx

    cfg, _, _ = optimized
    c = cfg.copy()
    c.optimize.variants = ["onnx", "onnx_int8", "onnx_int8_unfused"]
    result = run_optimize(c)
    opt = c.run_path / "optimize"
    fused = {n.op_type for n in onnx.load(str(opt / "student_onnx_int8" / "model.onnx")).graph.node}
    plain = {n.op_type for n in onnx.load(str(opt / "student_onnx_int8_unfused" / "model.onnx")).graph.node}
    assert {"QAttention", "QEmbedLayerNormalization", "SkipLayerNormalization"} <= fused
    assert not plain & {"QAttention", "Attention", "SkipLayerNormalization"} and "MatMulInteger" in plain
    for name in ("onnx_int8", "onnx_int8_unfused"):
        v = result.variants[name]
        assert v.status == "ok" and v.agreement == 1.0 and v.max_abs_logit_diff < 0.05, v  # parity on the real test texts
    assert result.variants["onnx_int8_unfused"].quantization["fusion"] == {"fused": False}
    c.optimize.fuse = False  # fusion off: onnx_int8 is the plain graph quantized
    off = run_optimize(c)
    assert off.variants["onnx_int8"].quantization["op_types"] == ["MatMul", "Gather"]


def test_pruned_and_static_variants(optimized):
    import onnx

    cfg, result, _ = optimized
    opt = cfg.run_path / "optimize"
    pruned = result.variants["onnx_int8_pruned"]
    assert pruned.status == "ok" and pruned.agreement == 1.0 and pruned.agreement_with["onnx_int8"] == 1.0
    assert pruned.vocabulary["kept"] < pruned.vocabulary["original"] / 10
    assert pruned.vocabulary["dropped_read_nearest"] == pruned.vocabulary["original"] - pruned.vocabulary["kept"]
    assert pruned.size_bytes < 0.5 * result.variants["onnx_int8"].size_bytes  # the embeddings were most of the tiny student
    info = json.loads((opt / "student_onnx_int8_pruned" / "ntmm.json").read_text())
    assert info["vocabulary"]["kept"] == pruned.vocabulary["kept"]
    # the folder keeps the student's own tokenizer (real tokens in explanations); the graph maps its ids
    tokenizer = load_predictor(opt / "student_onnx_int8_pruned").tokenizer
    assert len(tokenizer.get_vocab()) == pruned.vocabulary["original"]
    graph = onnx.load(str(opt / "student_onnx_int8_pruned" / "model.onnx")).graph
    assert graph.node[0].op_type == "Gather" and graph.node[0].input[1] == "input_ids"
    static = result.variants["static"]
    assert static.status == "ok" and not static.flagged  # a model of its own: never flagged for disagreeing
    folder = opt / "student_static"
    assert {"model.onnx", "static.safetensors", "static.json", "tokenizer.json", "ntmm.json"} <= {p.name for p in folder.iterdir()}
    p = load_predictor(folder)
    assert p.kind == "onnx" and p.label_names == ["cardio", "gastro", "neuro"]
    meta = json.loads((folder / "ntmm.json").read_text())
    assert meta["variant"] == "static" and meta["role"] == "static" and meta["source"].endswith("teacher/model")
    assert meta["static"]["training"]["kd"] and static.parameters < 0.2 * result.reference.parameters
    # it reads optimize.static_max_length tokens of a text (set to 64 by the fixture), the transformers data.max_length (32)
    long_text = " ".join(["heart"] * 600)
    assert meta["max_length"] == cfg.optimize.static_max_length == 64 and p.max_length == 64
    assert p.encode([long_text])["input_ids"].shape[1] == 64
    assert load_predictor(opt / "student_onnx_int8").encode([long_text])["input_ids"].shape[1] == cfg.data.max_length == 32


def test_per_channel_quantization_and_cpu_profile(optimized, tmp_path):
    from ntmm_engine.export.onnx import cpu_quant_profile, quantize_onnx

    cfg, result, _ = optimized
    profile = cpu_quant_profile()
    assert profile["profile"] in ("avx512_vnni", "avx512", "avx2", "arm64") and isinstance(profile["reduce_range"], bool)
    assert result.variants["onnx_int8"].quantization["reduce_range"] == profile["reduce_range"]
    src = cfg.run_path / "optimize" / "student_onnx" / "model.onnx"
    settings = quantize_onnx(src, tmp_path / "pc.onnx", per_channel=True)
    assert settings["per_channel"] and (tmp_path / "pc.onnx").stat().st_size < 0.35 * src.stat().st_size


def test_missing_student_is_a_clear_error(tmp_path, tiny_bert_factory):
    cfg = make_project(tmp_path, tiny_bert_factory, student=False)
    with pytest.raises(NTMMError, match="distil a student first"):
        run_optimize(cfg)


def test_cancel_between_variants(tmp_path, tiny_bert_factory):
    cfg = make_project(tmp_path, tiny_bert_factory)
    cfg.optimize.variants = ["torch_int8", "onnx"]
    cancel = CancelToken()

    def on_event(e):
        if isinstance(e, Evaluation) and e.split == "parity_torch_int8":
            cancel.cancel()

    result = run_optimize(cfg, on_event, cancel)
    opt = cfg.run_path / "optimize"
    assert result.status == "cancelled" and list(result.variants) == ["torch_int8"]
    assert (opt / "student_torch_int8" / "ntmm.json").is_file()
    assert not (opt / "student_onnx").exists() and not list(opt.glob(".student_onnx*"))
    assert not (opt / "result.json").exists()
    assert RunFolder(cfg.run_path).stage_status("optimize") == "cancelled"


def test_torch_int8_unavailable_is_reported_not_fatal(tmp_path, tiny_bert_factory, monkeypatch):
    import torch.ao.quantization as tq

    from ntmm_engine.inference import torch_int8 as quantize

    monkeypatch.delattr(tq, "quantize_dynamic")
    ok, reason = quantize.torch_int8_status()
    assert not ok and "not available in this torch" in reason
    cfg = make_project(tmp_path, tiny_bert_factory)
    cfg.optimize.variants = ["torch_int8"]
    result = run_optimize(cfg)
    v = result.variants["torch_int8"]
    assert result.status == "completed" and v.status == "unavailable" and "not available in this torch" in v.message
    assert not (cfg.run_path / "optimize" / "student_torch_int8").exists()
    assert "not available" in result.summary_text()
