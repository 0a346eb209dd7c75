"""Vocabulary pruning, two ways, on a distilled student: how often does it change a prediction?

    python bench/vocab_pruning.py --config PROJECT [--tag TAG]

PROJECT is a project whose distill step has run (its ``distill/student``). The word pieces kept are
those of the training split and the ``data.unlabelled`` texts (as the optimize job keeps them). Two
ways of reading a test text that holds other pieces are compared, each in fp32 (PyTorch) and in
fused dynamic INT8 (ONNX Runtime, as ``onnx_int8_pruned`` is built):

- *smaller tokenizer*: the tokenizer's vocabulary is cut to the kept pieces, so an unseen word splits
  into other, smaller pieces (the single ASCII characters are always kept);
- *id table* (what NTMM does): the tokenizer is unchanged, and the model reads each dropped piece as
  the kept piece whose embedding is nearest (``ntmm_engine.distill.vocab.id_table``).

Agreement is with the unpruned model of the same precision, on the test split. Writes
bench/results/vocab_pruning[-TAG].{json,md}.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import md_table, save


def predictions_torch(model, tokenizer, texts, max_length, table=None):
    import torch

    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), 32):
            enc = tokenizer(texts[i:i + 32], truncation=True, max_length=max_length, padding=True, return_tensors="pt")
            if table is not None:
                enc["input_ids"] = table[enc["input_ids"]]
            out += model(**enc).logits.argmax(-1).tolist()
    return out


def int8_folder(model, tokenizer, folder: Path, table=None) -> Path:
    """The fused dynamic INT8 ONNX of ``model`` (with ``tokenizer``), built as the optimize job builds it."""
    from ntmm_engine.export import onnx as onnx_export

    src = folder / "fp32"
    model.save_pretrained(src, safe_serialization=True)
    tokenizer.save_pretrained(src)
    exported = folder / "onnx"
    onnx_export.export_onnx(src, exported)
    onnx_export.int8_onnx(exported / "model.onnx", exported / "model.onnx", fuse=True)
    if table is not None:
        onnx_export.add_input_id_table(exported / "model.onnx", table.tolist())
    return exported


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="a project whose distill step has run")
    p.add_argument("--tag", default="")
    args = p.parse_args()

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ntmm_engine.api import load_predictor
    from ntmm_engine.core.config import load_config
    from ntmm_engine.data.prepare import prepare_data
    from ntmm_engine.data.unlabelled import read_unlabelled
    from ntmm_engine.distill.vocab import bounded_tokenizer, choose_vocabulary, prune_model, prune_vocabulary, pruned_tokenizer

    cfg = load_config(args.config)
    student = cfg.run_path / "distill" / "student"
    tok = AutoTokenizer.from_pretrained(student)
    model = AutoModelForSequenceClassification.from_pretrained(student).eval()
    max_length = cfg.data.max_length
    prepared = prepare_data(cfg.data, seed=cfg.seed, base_dir=cfg.base_dir)
    vocab_texts = list(prepared.splits["train"]["text"])
    if cfg.data.unlabelled:
        vocab_texts += read_unlabelled(cfg.data, prepared, base_dir=cfg.base_dir, exclude=cfg.run_path)
    test = list(prepared.splits["test"]["text"])

    rows = []
    with tempfile.TemporaryDirectory(prefix="ntmm-vocab-bench-") as tmp:
        tmp = Path(tmp)
        ref_fp32 = predictions_torch(model, tok, test, max_length)
        ref_int8 = [p.label_id for p in load_predictor(int8_folder(model, bounded_tokenizer(tok, max_length),
                                                                    tmp / "unpruned")).predict(test)]

        start = time.monotonic()
        vocab = choose_vocabulary(tok, vocab_texts, max_length)
        small_tok = pruned_tokenizer(tok, vocab, max_length)
        small = prune_model(model, vocab, tok.pad_token_id, max_length).eval()
        ways = {"smaller tokenizer (unseen words split)": (small, small_tok, None, vocab)}
        pruned, table, vocab2 = prune_vocabulary(model, tok, vocab_texts, max_length)
        ways["id table (nearest kept row; NTMM)"] = (pruned, bounded_tokenizer(tok, max_length), table, vocab2)
        for i, (name, (m, t, tab, v)) in enumerate(ways.items()):
            fp32 = predictions_torch(m, t, test, max_length, tab)
            folder = int8_folder(m, t, tmp / f"way{i}", tab)
            int8 = [p.label_id for p in load_predictor(folder).predict(test)]
            n = len(test)
            rows.append({"way": name, "pieces kept": len(v.kept), "of": v.original_size,
                         "fp32 agreement": round(sum(a == b for a, b in zip(fp32, ref_fp32)) / n, 4),
                         "fp32 changed": sum(a != b for a, b in zip(fp32, ref_fp32)),
                         "INT8 agreement": round(sum(a == b for a, b in zip(int8, ref_int8)) / n, 4),
                         "INT8 changed": sum(a != b for a, b in zip(int8, ref_int8)),
                         "INT8 MB": round((folder / "model.onnx").stat().st_size / 1e6, 2)})
            print(rows[-1], flush=True)
        seconds = time.monotonic() - start
    name = "vocab_pruning" + (f"-{args.tag}" if args.tag else "")
    save(name, {"config": str(Path(args.config).resolve()), "vocab_texts": len(vocab_texts), "test_texts": len(test),
                "max_length": max_length, "rows": rows, "seconds": round(seconds, 1)},
         md_table(rows, ["way", "pieces kept", "of", "fp32 agreement", "fp32 changed", "INT8 agreement", "INT8 changed",
                         "INT8 MB"])
         + f"\n\nStudent: {student}; pieces kept from {len(vocab_texts)} texts (training split"
           f"{' + data.unlabelled' if cfg.data.unlabelled else ''}) at max_length {max_length}; agreement with the "
           f"unpruned student of the same precision on {len(test)} test texts. Target (issue 15): INT8 agreement >= 99 %, "
           "INT8 model.onnx <= 8 MB.")


if __name__ == "__main__":
    main()
