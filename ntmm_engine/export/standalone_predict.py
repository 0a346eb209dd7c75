"""Predict with an NTMM bundle; needs only onnxruntime, tokenizers and numpy (see requirements.txt).

    pip install -r requirements.txt
    python predict.py "72 yo male, crushing chest pain, ST elevation"
    python predict.py --file notes.txt --json          # one text a line; JSON out

From Python::

    from predict import Bundle
    Bundle().predict(["72 yo male, crushing chest pain"])   # [{"label": ..., "probabilities": {...}}]

It tokenizes as NTMM does (the model's tokenizer.json, truncation at its max_length, padding to the
longest text of each batch of 32), runs model.onnx with ONNX Runtime's CPU provider and the same
session options, divides the logits by the calibration temperature when the bundle has one, and
takes the softmax: the labels and probabilities of ``ntmm predict`` on the same model.

This file is written by ``ntmm export`` (``ntmm_engine/export/standalone_predict.py``); it imports
nothing of NTMM.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

HERE = Path(__file__).resolve().parent
CONFIG = "ntmm_bundle.json"


class Bundle:
    """The model of a bundle folder: ``predict(texts)`` and ``logits(texts)``."""

    def __init__(self, folder: str | Path = HERE, threads: int = 0):
        folder = Path(folder)
        self.config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        self.labels = [str(x) for x in self.config["labels"]]
        self.temperature = float(self.config.get("temperature") or 1.0)
        self.batch_size = int(self.config.get("batch_size") or 32)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=int(self.config["max_length"]))
        self.tokenizer.enable_padding(pad_id=int(self.config["pad_id"]), pad_token=str(self.config["pad_token"]))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = max(int(threads), 0)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(folder / self.config.get("model", "model.onnx")), options,
                                            providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def _forward(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in encoded], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.asarray([e.attention_mask for e in encoded], dtype=np.int64),
                "token_type_ids": np.zeros_like(ids)}  # single texts: every token is of type 0
        missing = [n for n in self.inputs if n not in feed]
        if missing:
            raise SystemExit(f"model.onnx needs input(s) {missing}, which this script does not make.")
        return np.asarray(self.session.run(None, {n: feed[n] for n in self.inputs})[0], dtype=np.float32)

    def logits(self, texts: list[str]) -> np.ndarray:
        """Raw logits (texts x classes), ``batch_size`` texts at a time (as ``ntmm predict`` batches them)."""
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return np.concatenate([self._forward(texts[i:i + self.batch_size]) for i in range(0, len(texts), self.batch_size)])

    def predict(self, texts: list[str]) -> list[dict]:
        """``{"label", "probabilities"}`` per text, in order."""
        z = np.asarray(self.logits(texts), dtype=np.float64) / self.temperature
        z -= z.max(axis=-1, keepdims=True)
        probs = np.exp(z)
        probs /= probs.sum(axis=-1, keepdims=True)
        return [{"label": self.labels[int(row.argmax())], "probabilities": dict(zip(self.labels, map(float, row)))}
                for row in probs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Classify texts with this NTMM bundle.")
    parser.add_argument("texts", nargs="*", help="texts to classify")
    parser.add_argument("--file", help="a UTF-8 text file, one text a line")
    parser.add_argument("--json", action="store_true", help="print a JSON list of {text, label, probabilities}")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0 = all cores)")
    args = parser.parse_args(argv)
    texts = list(args.texts)
    if args.file:
        texts += [line.strip() for line in Path(args.file).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        parser.error("give texts, or --file with one text a line")
    results = Bundle(threads=args.threads).predict(texts)
    if args.json:
        print(json.dumps([{"text": t, **r} for t, r in zip(texts, results)], ensure_ascii=False, indent=1))
    else:
        for t, r in zip(texts, results):
            probs = "  ".join(f"{n}={p:.3f}" for n, p in sorted(r["probabilities"].items(), key=lambda kv: -kv[1]))
            print(f"{r['label']}\t{probs}\t{' '.join(t.split())[:70]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
