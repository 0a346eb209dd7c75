"""Prediction under load: 10,000 clinical texts from a file, streamed in batches.

    python bench/predict_load.py                 # 2-layer cut of the bundled MiniLM, fresh 5-class head
    python bench/predict_load.py --full          # the full 6-layer MiniLM
    python bench/predict_load.py --model DIR     # any NTMM model folder or .onnx file
    python bench/predict_load.py --texts 50000 --batch-size 64

Builds a CSV of synthetic clinical texts (the demo notes, perturbed so that
no two are the same) in a temp folder, then measures, for the same model:

* in process: ``iter_texts_file`` -> ``Predictor.predict_stream`` -> ``PredictionWriter``
  (the path ``ntmm predict --file --out`` takes), with a progress line and the
  process's resident memory sampled every batch, to show it stays flat;
* the command line: ``ntmm predict --model M --file F --out P`` in a child
  process (wall time, texts/s, the child's peak RSS).

Writes bench/results/predict_load.{json,md}.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, md_table, save

LABELS = ["cardiology", "endocrinology", "gastroenterology", "neurology", "respiratory"]
DEMO = ROOT / "resources" / "demo" / "demo_train.csv"
EXTRA = ["Seen with a relative.", "Bloods sent.", "Plan discussed with the registrar.", "Obs stable.",
         "No known drug allergies.", "Lives alone, independent.", "Follow-up in clinic in 6 weeks.",
         "Safety-netting advice given.", "ECG reviewed.", "Pain score 4/10."]


def make_texts_csv(path: Path, n: int, seed: int = 0) -> Path:
    """``n`` distinct synthetic notes: demo texts with shuffled sentences, new ages/durations and extra phrases."""
    rng = random.Random(seed)
    with open(DEMO, newline="", encoding="utf-8") as fh:
        base = [r["text"] for r in csv.DictReader(fh)]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "note"])
        for i in range(n):
            sentences = [s.strip() for s in rng.choice(base).split(". ") if s.strip()]
            rng.shuffle(sentences)
            sentences += rng.sample(EXTRA, rng.randint(0, 3))
            text = f"{rng.randint(18, 95)} yo. " + ". ".join(s.rstrip(".") for s in sentences) + f". Ref {i}."
            w.writerow([i, text])
    return path


def make_minilm_classifier(folder: Path, layers: int, max_length: int) -> Path:
    """The bundled MiniLM (its first/last layers when ``layers`` < 6) with a fresh 5-class head, save_pretrained."""
    import transformers

    from ntmm_engine.core.models import bundled_minilm_path, load_classifier, load_tokenizer
    from ntmm_engine.distill.students import shrink_teacher, spread_layers

    src = str(bundled_minilm_path())
    transformers.set_seed(0)
    model = load_classifier(src, id2label=dict(enumerate(LABELS)))
    if layers < model.config.num_hidden_layers:
        model = shrink_teacher(model, spread_layers(model.config.num_hidden_layers, layers))
    model.save_pretrained(folder, safe_serialization=True)
    load_tokenizer(src).save_pretrained(folder)
    (folder / "ntmm.json").write_text(json.dumps({"role": "bench", "max_length": max_length, "label_names": LABELS}))
    return folder


def rss_mb() -> float:
    import psutil
    return psutil.Process().memory_info().rss / 2**20


def in_process(model: str, texts_file: Path, out: Path, batch_size: int, n: int, threads: int) -> dict:
    from ntmm_engine.inference.writers import PredictionWriter
    from ntmm_engine.inference.textfiles import iter_texts_file
    from ntmm_engine.inference.predictors import load_predictor

    t_load = time.perf_counter()
    pred = load_predictor(model, threads=threads)
    pred.set_threads(threads)
    load_s = time.perf_counter() - t_load
    rss_start = rss_mb()
    samples, done, last_print, tty = [], 0, 0.0, sys.stderr.isatty()
    t0 = time.perf_counter()
    with PredictionWriter(out, pred.label_names) as writer:
        for batch, preds in pred.predict_stream(iter_texts_file(texts_file, "note"), batch_size=batch_size):
            writer.write(batch, preds)
            done += len(batch)
            samples.append((done, rss_mb()))
            now = time.perf_counter()
            if now - last_print > (2 if tty else 20) or done == n:  # a live line on a terminal, a line a while in logs
                line = f"  in process: {done:>6}/{n} texts, {done / (now - t0):6.0f} texts/s, RSS {samples[-1][1]:.0f} MB"
                print("\r" + line if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
                last_print = now
    wall = time.perf_counter() - t0
    if tty:
        print(file=sys.stderr)
    rows = sum(1 for _ in open(out, encoding="utf-8")) - 1
    assert rows == n, f"wrote {rows} predictions for {n} texts"
    at = {f"rss_mb_after_{int(p * 100)}pct": next(r for d, r in samples if d >= p * n) for p in (0.1, 0.5, 1.0)}
    return {"path": "in process (stream + PredictionWriter)", "kind": pred.kind, "texts": n, "batch_size": batch_size,
            "load_seconds": round(load_s, 2), "seconds": round(wall, 2), "texts_per_second": round(n / wall, 1),
            "rss_mb_before": round(rss_start, 1), **{k: round(v, 1) for k, v in at.items()},
            "rss_mb_max_while_predicting": round(max(r for _, r in samples), 1),
            "rss_growth_10_to_100pct_mb": round(at["rss_mb_after_100pct"] - at["rss_mb_after_10pct"], 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def through_cli(model: str, texts_file: Path, out: Path, batch_size: int, n: int, threads: int) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)  # ntmm predict has no threads flag; torch and ORT read this
    cmd = [sys.executable, "-m", "ntmm_engine.cli", "predict", "--model", model, "--file", str(texts_file),
           "--column", "note", "--out", str(out), "--batch-size", str(batch_size)]
    print(f"  cli: {' '.join(cmd[2:])}", file=sys.stderr)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"ntmm predict failed:\n{proc.stderr[-3000:]}")
    rows = sum(1 for _ in open(out, encoding="utf-8")) - 1
    assert rows == n, f"ntmm predict wrote {rows} predictions for {n} texts"
    # RUSAGE_CHILDREN: the largest peak RSS of any waited-for child, here the only one.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"path": "ntmm predict --file --out (child process)", "texts": n, "batch_size": batch_size,
            "seconds": round(wall, 2), "texts_per_second": round(n / wall, 1),
            "note": "wall time includes starting Python and loading the model", "peak_rss_mb": round(peak, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model folder or .onnx file (default: a MiniLM cut built here)")
    ap.add_argument("--full", action="store_true", help="use all 6 MiniLM layers instead of 2")
    ap.add_argument("--texts", type=int, default=10_000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128, help="truncation of the default model (ntmm.json)")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = library default)")
    ap.add_argument("--name", default="predict_load", help="results file name (bench/results/NAME.json)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="ntmm-predict-load-") as tmp:
        tmp = Path(tmp)
        texts_file = make_texts_csv(tmp / "notes.csv", args.texts)
        if args.model:
            model, desc = args.model, args.model
        else:
            layers = 6 if args.full else 2
            model = str(make_minilm_classifier(tmp / "model", layers, args.max_length))
            desc = f"bundled all-MiniLM-L6-v2, {layers} of 6 layers, fresh {len(LABELS)}-class head, max_length {args.max_length}"
        print(f"{args.texts} texts ({texts_file.stat().st_size / 1e6:.1f} MB) -> {desc}", file=sys.stderr)
        load_before = os.getloadavg()[0]
        runs = [in_process(model, texts_file, tmp / "pred_inproc.csv", args.batch_size, args.texts, args.threads),
                through_cli(model, texts_file, tmp / "pred_cli.csv", args.batch_size, args.texts, args.threads)]
        file_mb = texts_file.stat().st_size / 1e6
        load = {"load_average_1min_before": round(load_before, 2), "load_average_1min_after": round(os.getloadavg()[0], 2)}

    data = {"model": desc, "texts": args.texts, "file_mb": round(file_mb, 2), "threads": args.threads, **load, "runs": runs}
    save(args.name, data, report(data))


def report(data: dict) -> str:
    """The Markdown table and notes for bench/results/NAME.md."""
    runs, n = data["runs"], data["texts"]
    table = md_table(runs, ["path", "texts", "batch_size", "seconds", "texts_per_second", "peak_rss_mb"])
    ip = runs[0]
    second_half = round(ip["rss_mb_after_100pct"] - ip["rss_mb_after_50pct"], 1)
    return table + (
        f"\n\nResident memory of the in-process run: {ip['rss_mb_before']} MB with the model loaded, then "
        f"{ip['rss_mb_after_10pct']} / {ip['rss_mb_after_50pct']} / {ip['rss_mb_after_100pct']} MB after 10% / 50% / 100% "
        f"of the texts ({second_half:+} MB over the second {n // 2} texts). The file is streamed and the predictions "
        "are written batch by batch, so nothing is kept per text; the rise early on is the C heap settling to the "
        "largest batch shapes (glibc), after which it levels off.\n"
        f"\nModel: {data['model']}. Input: {n} synthetic clinical notes ({data['file_mb']:.1f} MB CSV) made from "
        f"resources/demo/demo_train.csv. Threads: {data['threads'] or 'library default'}. Machine load average "
        f"(1 min) before/after: {data['load_average_1min_before']} / {data['load_average_1min_after']} "
        "(texts/s drop when other processes share the cores).")


if __name__ == "__main__":
    main()
