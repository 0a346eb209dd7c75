"""Model cards: Hugging Face front matter, real metrics, data citation, limitations, loading instructions."""

import json

import yaml

from ntmm_engine.core.config import ProjectConfig
from ntmm_engine.reports.model_card import hub_base_model, render_model_card, write_model_card


def front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    head = text.split("\n---\n", 1)[0][4:]
    return yaml.safe_load(head)


def fake_metrics(acc=0.8125, f1=0.79421):
    per_class = [{"label": "cardio", "precision": 0.9, "recall": 0.75, "f1": 0.8182, "support": 4},
                 {"label": "neuro", "precision": 0.6667, "recall": 1.0, "f1": 0.8, "support": 2}]
    return {"validation": {"accuracy": 0.75, "macro_f1": 0.7, "loss": 0.61, "per_class": per_class},
            "test": {"accuracy": acc, "macro_f1": f1, "loss": 0.5, "per_class": per_class}}


def test_teacher_run_writes_a_card_with_its_real_metrics(tiny_config):
    from ntmm_engine.train.teacher import run_teacher

    tiny_config.teacher.epochs = 1
    run_teacher(tiny_config)
    stage = tiny_config.run_path / "teacher"
    result = json.loads((stage / "result.json").read_text())
    text = (stage / "model" / "README.md").read_text()
    fm = front_matter(text)
    assert fm["library_name"] == "transformers" and fm["pipeline_tag"] == "text-classification"
    assert "base_model" not in fm  # a local folder is not a Hub id
    assert "teacher" in fm["tags"]
    results = fm["model-index"][0]["results"]
    values = {(r["dataset"]["split"], m["type"]): m["value"] for r in results for m in r["metrics"]}
    for split in ("validation", "test"):
        m = result["metrics"][split]
        assert values[(split, "accuracy")] == round(m["accuracy"], 4)
        assert values[(split, "f1")] == round(m["macro_f1"], 4)
        for key in ("accuracy", "macro_f1", "loss"):
            assert f"{m[key]:.4f}" in text, (split, key)
        for c in m["per_class"]:
            assert f"| {c['label']} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1']:.4f} | {c['support']} |" in text
    assert "Not for clinical decisions" in text and "without local validation" in text
    assert f"| learning_rate | {tiny_config.teacher.learning_rate:g} |" in text
    assert "| adam_beta2 | 0.999 |" in text and "| adam_epsilon | 1e-08 |" in text and "| lr_scheduler | cosine |" in text
    assert 'pipeline("text-classification"' in text and "ntmm predict --model" in text
    assert str(result["steps_done"]) in text
    assert not list((stage / "model").glob(".*tmp"))  # written atomically, nothing left behind


def test_card_for_a_hub_base_on_medical_abstracts_with_benchmark(tmp_path):
    cfg = ProjectConfig(name="medproj")
    cfg.base_dir = str(tmp_path)
    cfg.data.train = "data/medical_abstracts/medical_tc_train.csv"
    cfg.distill.num_layers = 3
    report = {"label_names": ["cardio", "neuro"], "counts": {"train": {"cardio": 40, "neuro": 30},
                                                              "test": {"cardio": 4, "neuro": 2}},
              "sources": {"train": cfg.data.train}, "augmentation": {"copies": 1, "added_rows": 70, "p": 0.15,
                                                                      "ops": ["synonym", "swap"]}}
    bench = {"variant": "student_onnx_int8", "latency_p50_ms": 1.234, "throughput_per_s": 812.5, "size_mb": 11.2}
    machine = {"cpu": "Intel Xeon Test CPU", "cpu_count": 8, "platform": "Linux-6", "packages": {"onnxruntime": "1.32"}}
    folder = tmp_path / "student_onnx_int8"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"x")
    path = write_model_card(folder, role="student_onnx_int8", config=cfg, metrics=fake_metrics(),
                            base_model="bundled:all-MiniLM-L6-v2", construction="3 of 6 teacher layers, then INT8",
                            data_report=report, benchmark_row=bench, machine=machine)
    text = path.read_text()
    fm = front_matter(text)
    assert fm["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert {"onnx", "int8", "knowledge-distillation"} <= set(fm["tags"])
    assert "Schopf" in text and "Braun" in text and "Matthes" in text and "NLPIR" in text and "CC BY-SA 3.0" in text
    assert "Intel Xeon Test CPU" in text and "| latency_p50_ms | 1.2340 |" in text and "812.5000" in text
    assert "onnxruntime" in text and "InferenceSession" in text and "model.onnx" in text
    assert "| cardio | 40 | 4 |" in text and "| **total** | 70 | 6 |" in text
    assert "70 rows added" in text
    assert "| num_layers | 3 |" in text and "| temperature | 3 |" in text  # the distill recipe for students
    assert "0.8125" in text and "0.7942" in text and "Not for clinical decisions" in text


def test_card_without_metrics_or_known_data_and_hub_names(tmp_path):
    cfg = ProjectConfig(name="p")
    cfg.base_dir = str(tmp_path)
    cfg.data.train = "notes.csv"
    text = render_model_card(role="baseline", config=cfg, metrics={}, base_model="org/some-bert",
                             construction="fresh 2-layer encoder")
    fm = front_matter(text)
    assert fm["base_model"] == "org/some-bert" and "model-index" not in fm
    assert "No evaluation metrics" in text and "Schopf" not in text
    assert hub_base_model(str(tmp_path)) is None and hub_base_model("bert-base-uncased") == "bert-base-uncased"


def test_variant_card_and_benchmark_section(tmp_path):
    from ntmm_engine.core.config import ProjectConfig
    from ntmm_engine.reports.model_card import add_benchmark_section, write_variant_card

    m = {"accuracy": 0.8125, "macro_f1": 0.7931, "per_class": [{"label": "a", "precision": 1, "recall": 1, "f1": 1, "support": 3}]}
    folder = tmp_path / "student_onnx_int8"
    folder.mkdir()
    write_variant_card(folder, variant="onnx_int8", config=ProjectConfig(), source="runs/distill/student", test_metrics=m)
    text = (folder / "README.md").read_text()
    assert "0.7931" in text and "ONNX Runtime dynamic INT8" in text
    add_benchmark_section(folder, {"variant": "student_onnx_int8", "latency_ms_median": 1.234}, {"cpu": "Test CPU", "cpu_count": 2})
    add_benchmark_section(folder, {"variant": "student_onnx_int8", "latency_ms_median": 2.5}, {"cpu": "Test CPU", "cpu_count": 2})
    text = (folder / "README.md").read_text()
    assert text.count("## Speed and size") == 1 and "2.5" in text and "1.234" not in text and "Test CPU" in text
    assert text.index("## Speed and size") < text.index("## Intended use")


def test_card_states_the_measured_calibration_instead_of_not_calibrated(tmp_path):
    import numpy as np

    from ntmm_engine.reports.calibration import calibrate

    rng = np.random.default_rng(0)
    z = rng.normal(size=(200, 3))
    y = z.argmax(axis=1)
    y[:40] = (y[:40] + 1) % 3
    c = calibrate({"validation": (4 * z, y), "test": (4 * z, y)})
    cfg = ProjectConfig(name="p")
    cfg.base_dir = str(tmp_path)
    text = render_model_card(role="student", config=cfg, metrics={}, base_model="bert", construction="x", calibration=c)
    raw, cal = c.scores("test", False), c.scores("test", True)
    assert "## Calibration" in text and f"T = {c.temperature:.4f}" in text
    assert f"| test | {raw.ece:.4f} → {cal.ece:.4f} |" in text
    assert "not calibrated" not in text and f"test ECE {raw.ece:.3f} before, {cal.ece:.3f} after" in text
    plain = render_model_card(role="student", config=cfg, metrics={}, base_model="bert", construction="x")
    assert "## Calibration" not in plain and "Scores were not calibrated for this model" in plain
