"""Calibration of every model of a Medical Abstracts run: ECE, Brier and NLL before and after temperature scaling.

    python bench/calibration_medical.py [--run-dir bench/results/runs/medical] [--tag NAME]
    python bench/calibration_medical.py --smoke      # a tiny run folder of test-sized models; nothing is saved

The run folder is one made with ``bench/common.py::medical_config`` (bench/teacher_medical.py,
distill_medical.py and optimize_medical.py, or ``ntmm pipeline`` on such a config). For every model in it
(classical baseline, teacher, student, no-KD baseline, torch INT8, ONNX, ONNX INT8) the script runs the
validation and test splits through the model's own predictor, fits the temperature on its validation
logits by minimising NLL (as the stages do), and scores the test split before and after. The
temperature stored in the model's ntmm.json (written by the stage that built it) is reported beside
the refitted one; a model of an older run has none. Writes bench/results/calibration_medical[-TAG].{json,md}.
Target: temperature scaling lowers the test ECE of every model, and no calibrated model's test ECE is
above 0.05; the note says which miss and by how much.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import RESULTS, md_table, medical_config, save

TARGET_ECE = 0.05


def smoke_run(root: Path):
    """A run folder like the tests build: tiny random BERTs as teacher and student, optimize's variants, the
    classical baseline (seconds; the figures mean nothing)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import json

    from testdata import make_rows, write_csv
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from ntmm_engine.classical.job import run_classical
    from ntmm_engine.core.config import ProjectConfig
    from ntmm_engine.core.models import bundled_minilm_path
    from ntmm_engine.data.prepare import prepare_data
    from ntmm_engine.export.optimize import run_optimize

    cfg = ProjectConfig(name="smoke", run_dir=str(root / "runs"))
    cfg.base_dir = str(root)
    cfg.data.train = str(write_csv(root / "easy.csv", make_rows(20)))
    cfg.data.max_length = 32
    names = prepare_data(cfg.data, seed=cfg.seed, base_dir=cfg.base_dir).label_names
    tok = AutoTokenizer.from_pretrained(bundled_minilm_path())
    for rel, layers in (("teacher/model", 2), ("distill/student", 1), ("distill/baseline", 1)):
        model = BertForSequenceClassification(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=layers,
                                                         num_attention_heads=2, intermediate_size=64, num_labels=len(names)))
        dst = cfg.run_path / rel
        model.save_pretrained(dst)
        tok.save_pretrained(dst)
        (dst / "ntmm.json").write_text(json.dumps({"max_length": 32, "label_names": names}))
    run_classical(cfg)
    run_optimize(cfg)
    return cfg


def variant_calibration(cfg) -> list[dict]:
    import numpy as np

    from ntmm_engine.core.layout import RunLayout
    from ntmm_engine.data.prepare import prepare_data
    from ntmm_engine.inference.predictors import label_order, load_predictor
    from ntmm_engine.reports.calibration import calibrate

    prepared = prepare_data(cfg.data, seed=cfg.seed, base_dir=cfg.base_dir)
    splits = {s: (list(prepared.splits[s]["text"]), np.asarray(prepared.splits[s]["label"])) for s in ("validation", "test")}
    models = RunLayout(cfg.run_path).models()
    if not models:
        sys.exit(f"No model in {cfg.run_path}: build the run first (bench/teacher_medical.py, distill_medical.py, "
                 "optimize_medical.py, or ntmm pipeline on a medical_config project).")
    rows = []
    for name, folder in models.items():
        t0 = time.monotonic()
        pred = load_predictor(folder)
        order = label_order(pred.label_names, prepared.label_names, model=name)
        logits = {s: (pred.logits(texts, batch_size=32)[:, order], labels) for s, (texts, labels) in splits.items()}
        c = calibrate(logits)  # the stages' method: T fitted on this model's own validation logits
        raw, cal = c.scores("test", False), c.scores("test", True)
        rows.append({"variant": name, "kind": pred.kind, "stored_temperature": pred.info.get("temperature"),
                     "temperature": c.temperature, "test_accuracy": raw.accuracy,
                     "ece_before": raw.ece, "ece_after": cal.ece, "brier_before": raw.brier, "brier_after": cal.brier,
                     "nll_before": raw.nll, "nll_after": cal.nll,
                     "val_ece_before": c.scores("validation", False).ece, "val_ece_after": c.scores("validation").ece,
                     "test_examples": int(len(splits["test"][1])), "seconds": round(time.monotonic() - t0, 1),
                     "calibration": c.to_dict()})
        print(f"{name}: T {c.temperature:.3f} (stored {pred.info.get('temperature')}); test ECE {raw.ece:.4f} -> {cal.ece:.4f}",
              flush=True)
    return rows


def note(rows: list[dict]) -> str:
    worse = [r["variant"] for r in rows if r["ece_after"] >= r["ece_before"]]
    over = [f"{r['variant']} {r['ece_after']:.3f} (+{r['ece_after'] - TARGET_ECE:.3f})" for r in rows if r["ece_after"] > TARGET_ECE]
    parts = ["Temperature scaling lowers the test ECE of every model." if not worse else
             f"Temperature scaling does not lower the test ECE of: {', '.join(worse)}."]
    parts.append(f"Every calibrated model's test ECE is at most {TARGET_ECE}." if not over else
                 f"Above the target of {TARGET_ECE} after scaling: {', '.join(over)}.")
    return " ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default=str(RESULTS / "runs" / "medical"), help="a finished Medical Abstracts run folder")
    ap.add_argument("--tag", default="", help="suffix of the result files")
    ap.add_argument("--smoke", action="store_true", help="a tiny run folder of test models; prints, saves nothing")
    args = ap.parse_args()
    tmp = None
    if args.smoke:
        tmp = Path(tempfile.mkdtemp(prefix="ntmm-calibration-smoke-"))
        cfg = smoke_run(tmp)
    else:
        cfg = medical_config(Path(args.run_dir).resolve())
    try:
        t0 = time.monotonic()
        rows = variant_calibration(cfg)
        cols = ["variant", "kind", "temperature", "stored_temperature", "test_accuracy", "ece_before", "ece_after",
                "brier_before", "brier_after", "nll_before", "nll_after"]
        table = ("Medical Abstracts, test split: ECE (15 equal-width bins on the top probability), Brier score (summed over "
                 "classes) and NLL before and after temperature scaling; the temperature is fitted on each model's own "
                 "validation logits by minimising NLL (scipy, bounded Brent on 1/T).\n\n"
                 + md_table(rows, cols) + "\n\n" + note(rows))
        if args.smoke:
            print(table.replace("Medical Abstracts, test split", "SMOKE (tiny random models, not Medical Abstracts)"))
            return
        name = "calibration_medical" + (f"-{args.tag}" if args.tag else "")
        save(name, {"run_dir": str(cfg.run_path), "rows": rows, "note": note(rows), "target_ece": TARGET_ECE,
                    "wall_seconds": time.monotonic() - t0}, table)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
