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

from common import DEFAULT_RUN, md_table, run_config, save

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


def ece_noise_floor(probs, n_sims: int = 1000, seed: int = 0) -> dict:
    """The ECE a perfectly calibrated model with these top-class probabilities would show on this many texts:
    labels drawn right with exactly the stated probability, scored like the real ones. A measured ECE inside
    this range cannot be told from perfect calibration on this test split."""
    import numpy as np

    from ntmm_engine.reports.calibration import expected_calibration_error

    rng = np.random.default_rng(seed)
    probs = np.asarray(probs, dtype=np.float64)
    top, n, k = probs.argmax(-1), len(probs), probs.shape[1]
    conf = probs[np.arange(n), top]
    values = []
    for _ in range(n_sims):
        right = rng.random(n) < conf
        labels = np.where(right, top, (top + rng.integers(1, k, n)) % k)  # a wrong label: any other class
        values.append(expected_calibration_error(probs, labels))
    return {"mean": float(np.mean(values)), "p5": float(np.percentile(values, 5)), "p95": float(np.percentile(values, 95)),
            "sims": n_sims}


def variant_calibration(cfg) -> list[dict]:
    import numpy as np

    from ntmm_engine.core.layout import RunLayout
    from ntmm_engine.data.prepare import prepare_data
    from ntmm_engine.inference.predictors import label_order, load_predictor
    from ntmm_engine.reports.calibration import calibrate, calibrated_probabilities

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
        floor = ece_noise_floor(calibrated_probabilities(logits["test"][0], c.temperature))
        rows.append({"variant": name, "kind": pred.kind, "stored_temperature": pred.info.get("temperature"),
                     "temperature": c.temperature, "test_accuracy": raw.accuracy,
                     "ece_before": raw.ece, "ece_after": cal.ece, "brier_before": raw.brier, "brier_after": cal.brier,
                     "nll_before": raw.nll, "nll_after": cal.nll,
                     "val_ece_before": c.scores("validation", False).ece, "val_ece_after": c.scores("validation").ece,
                     "test_examples": int(len(splits["test"][1])), "ece_noise_floor": floor, "seconds": round(time.monotonic() - t0, 1),
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
    floors = [r["ece_noise_floor"] for r in rows if r.get("ece_noise_floor")]
    if floors:
        inside = [r["variant"] for r in rows if r.get("ece_noise_floor") and r["ece_after"] <= r["ece_noise_floor"]["p95"]]
        parts.append(f"A perfectly calibrated model with the same probabilities would read an ECE of "
                     f"{min(f['mean'] for f in floors):.3f}–{max(f['mean'] for f in floors):.3f} on these "
                     f"{rows[0]['test_examples']} texts (mean of {floors[0]['sims']} simulated label draws; 95th percentile up "
                     f"to {max(f['p95'] for f in floors):.3f}), so the target of {TARGET_ECE} is below what this test split "
                     "can measure; " + (f"within that range after scaling: {', '.join(inside)}." if inside
                                         else "no model is within that range after scaling."))
    return " ".join(parts)




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default=str(DEFAULT_RUN), help="a finished Medical Abstracts run folder")
    ap.add_argument("--tag", default="", help="suffix of the result files")
    ap.add_argument("--config", help="the run's project file (a run on a subset of the training split, other max_length): "
                                     "its data settings are used, and its run folder unless --run-dir is given")
    ap.add_argument("--smoke", action="store_true", help="a tiny run folder of test models; prints, saves nothing")
    args = ap.parse_args()
    tmp = None
    if args.smoke:
        tmp = Path(tempfile.mkdtemp(prefix="ntmm-calibration-smoke-"))
        cfg = smoke_run(tmp)
    else:
        cfg = run_config(args.config, args.run_dir)
    try:
        t0 = time.monotonic()
        rows = variant_calibration(cfg)
        for r in rows:
            r["ece_perfect_p95"] = r["ece_noise_floor"]["p95"]
        cols = ["variant", "kind", "temperature", "stored_temperature", "test_accuracy", "ece_before", "ece_after", "ece_perfect_p95",
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
