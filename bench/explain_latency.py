"""How long "why this label" takes: explanations of 100-word texts by the 2-layer student and its variants.

    python bench/explain_latency.py [--run-dir bench/results/runs/medical] [--texts 10] [--words 100]
    python bench/explain_latency.py --smoke     # the bundled MiniLM shrunk to 2 layers (a student's size), demo texts

Per model: the median and p90 wall time of ``explain(predictor, text)`` (Integrated Gradients for the PyTorch
fp32 student, leave-one-word-out occlusion for INT8 and ONNX, coefficients for the classical baseline) over
``--texts`` test texts cut to ``--words`` words, after one warm-up. Writes bench/results/explain_latency.{json,md}
(``--smoke``: prints only). Target: under a second for the 2-layer student on a 100-word text.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from common import DEFAULT_RUN, md_table, run_config, save

MODELS = ("student_fp32", "student_torch_int8", "student_onnx", "student_onnx_int8", "classical_tfidf")



def shrunk_student(folder: Path) -> Path:
    """The bundled MiniLM with 2 of its 6 layers (first and last) and a random 5-class head, saved."""
    import json

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ntmm_engine.core.models import bundled_minilm_path

    src = str(bundled_minilm_path())
    model = AutoModelForSequenceClassification.from_pretrained(src, num_labels=5)
    model.bert.encoder.layer = torch.nn.ModuleList([model.bert.encoder.layer[0], model.bert.encoder.layer[5]])
    model.config.num_hidden_layers = 2
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(src).save_pretrained(folder)
    (folder / "ntmm.json").write_text(json.dumps({"max_length": 256, "label_names": [f"c{i}" for i in range(5)]}))
    return folder


def timings(folder: Path, texts: list[str]) -> dict:
    import numpy as np

    from ntmm_engine.inference.explain import explain
    from ntmm_engine.inference.predictors import load_predictor

    pred = load_predictor(folder)
    explain(pred, texts[0])  # warm-up: first calls load captum and allocate
    seconds, method = [], ""
    for t in texts:
        t0 = time.perf_counter()
        e = explain(pred, t)
        seconds.append(time.perf_counter() - t0)
        method = e.method
    return {"kind": pred.kind, "method": method, "median_s": float(np.median(seconds)),
            "p90_s": float(np.percentile(seconds, 90)), "max_s": float(max(seconds)), "texts": len(texts)}




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default=str(DEFAULT_RUN))
    ap.add_argument("--texts", type=int, default=10)
    ap.add_argument("--config", help="the run's project file (a run on a subset of the training split, other max_length): "
                                     "its data settings are used, and its run folder unless --run-dir is given")
    ap.add_argument("--words", type=int, default=100)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    rows, tmp = [], None
    if args.smoke:
        tmp = Path(tempfile.mkdtemp(prefix="ntmm-explain-smoke-"))
        folders = {"student_fp32 (shrunk MiniLM, random head)": shrunk_student(tmp / "student")}
        base = ("72 yo male with crushing central chest pain radiating to the left arm, diaphoretic, troponin elevated, "
                "ECG with ST elevation in the inferior leads; started on aspirin and heparin and taken for catheterization. ")
        texts = [" ".join((base * 10).split()[i:i + args.words]) for i in range(args.texts)]
    else:
        from ntmm_engine.core.layout import RunLayout
        from ntmm_engine.data.prepare import prepare_data

        cfg = run_config(args.config, args.run_dir)
        found = RunLayout(cfg.run_path).models()
        folders = {n: found[n] for n in MODELS if n in found}
        test = prepare_data(cfg.data, seed=cfg.seed, base_dir=cfg.base_dir).splits["test"]["text"]
        long_texts = [t for t in test if len(t.split()) >= args.words] or list(test)
        texts = [" ".join(t.split()[:args.words]) for t in long_texts[:args.texts]]
    try:
        for name, folder in folders.items():
            r = {"model": name, **timings(folder, texts)}
            rows.append(r)
            print(f"{name}: median {r['median_s']:.3f} s, p90 {r['p90_s']:.3f} s ({r['method']})", flush=True)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        table = (f"explain() on {len(texts)} texts of {args.words} words each (median and p90 seconds, after a warm-up); "
                 f"1-minute load average at the end: {load:.2f}.\n\n"
                 + md_table(rows, ["model", "kind", "median_s", "p90_s", "max_s", "method"]))
        if args.smoke:
            print(table)
            return
        save("explain_latency", {"rows": rows, "words": args.words, "load_average": load}, table)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
