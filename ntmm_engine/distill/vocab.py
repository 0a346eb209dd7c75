"""Vocabulary pruning: keep only the word pieces a model's training texts use.

A MiniLM student's 30,522-row word-embedding matrix is most of its 15.6M
parameters, yet a few thousand domain texts use about a third of its rows.
:func:`prune_vocabulary` keeps the embedding rows of the pieces that occur in
the given texts (tokenized as the model reads them, at ``max_length``), the
special tokens and the single ASCII characters, and returns an id table for
the model's input: a kept piece reads its own row, a dropped piece the kept row
whose embedding is nearest (cosine). The tokenizer itself is not changed, so
every text splits into the same pieces as before and the tokens shown in
explanations are the real ones.

Why a table and not a smaller tokenizer (:func:`pruned_tokenizer`, still used
by the static student): with the vocabulary cut, a word the training texts
never used splits into other, smaller pieces, and on Medical Abstracts' test
split that changed 10 % of a 2-layer student's predictions (5,048 pieces kept
from 346 training texts); reading the nearest kept row instead changed 4.5 %
(fp32; bench/vocab_pruning.py, results in bench/results/vocab_pruning-*.md).

Hand-written: neither transformers nor tokenizers can drop vocabulary entries
(``resize_token_embeddings`` only cuts the end of the matrix).
"""

from __future__ import annotations

import json
import string
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..core.errors import ModelError

BATCH = 256


@dataclass
class PrunedVocabulary:
    """Which old ids were kept (the new id of ``kept[i]`` is ``i``) and what the check found."""

    kept: list[int]
    original_size: int
    texts_checked: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def old_to_new(self) -> dict[int, int]:
        return {old: new for new, old in enumerate(self.kept)}

    def describe(self) -> dict[str, Any]:
        return {"original": self.original_size, "kept": len(self.kept), "texts_checked": self.texts_checked,
                "tokenizer": "unchanged; dropped pieces read the nearest kept embedding", **self.details}


def id_table(weight, kept: Sequence[int], chunk: int = 2048):
    """For every old id, the row of the pruned embedding it reads: its own where kept, else the kept row
    with the most similar embedding (cosine). Returns (LongTensor of the old vocabulary's size, the cosine
    similarity of each id to the row it reads: 1 where kept)."""
    import torch

    with torch.no_grad():
        w = torch.nn.functional.normalize(weight.detach().float(), dim=1)
        kept_t = torch.as_tensor(list(kept), dtype=torch.long)
        table = torch.empty(w.shape[0], dtype=torch.long)
        sims = torch.empty(w.shape[0])
        for start in range(0, w.shape[0], chunk):  # in chunks: 30k x 5k similarities at once would be 600 MB
            sims[start:start + chunk], table[start:start + chunk] = (w[start:start + chunk] @ w[kept_t].T).max(dim=1)
        table[kept_t] = torch.arange(len(kept_t))
        sims[kept_t] = 1.0
    return table, sims


def _tokenizer_json(tokenizer) -> dict[str, Any]:
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError("Vocabulary pruning needs a fast (tokenizers) tokenizer; this model has a slow one.")
    data = json.loads(tokenizer.backend_tokenizer.to_str())
    kind = (data.get("model") or {}).get("type")
    if kind != "WordPiece":
        raise ModelError(f"Vocabulary pruning supports WordPiece tokenizers (BERT, MiniLM...); this one is {kind}.",
                         hint="leave onnx_int8_pruned out of optimize.variants for this model")
    return data


def used_ids(tokenizer, texts: Sequence[str], max_length: int) -> set[int]:
    """Every token id the texts produce, tokenized as the model reads them."""
    ids: set[int] = set()
    for start in range(0, len(texts), BATCH):
        for seq in tokenizer(list(texts[start:start + BATCH]), truncation=True, max_length=max_length)["input_ids"]:
            ids.update(seq)
    return ids


def choose_vocabulary(tokenizer, texts: Sequence[str], max_length: int) -> PrunedVocabulary:
    """The ids to keep: those the texts use, the special tokens, and the single ASCII characters."""
    _tokenizer_json(tokenizer)
    vocab = tokenizer.get_vocab()
    chars = [c for c in string.printable if not c.isspace()]
    fallback = {vocab[t] for c in chars for t in (c, "##" + c) if t in vocab}
    used = used_ids(tokenizer, texts, max_length)
    kept = sorted(used | set(tokenizer.all_special_ids) | fallback)
    return PrunedVocabulary(kept=kept, original_size=len(vocab), details={
        "used_by_texts": len(used), "single_characters": len(fallback - used)})


def pruned_tokenizer(tokenizer, vocab: PrunedVocabulary, max_length: int):
    """The tokenizer with only ``vocab.kept``, renumbered (a new object; the original is untouched)."""
    from transformers import AutoTokenizer

    data = _tokenizer_json(tokenizer)
    remap = vocab.old_to_new
    id_to_token = {i: t for t, i in tokenizer.get_vocab().items()}
    data["model"]["vocab"] = {id_to_token[old]: new for new, old in enumerate(vocab.kept)}
    for tok in data.get("added_tokens") or []:
        if tok["id"] not in remap:
            raise ModelError(f"Added token {tok['content']!r} is not in the pruned vocabulary.")
        tok["id"] = remap[tok["id"]]
    _remap_post_processor(data.get("post_processor"), remap)
    if data.get("padding") and "pad_id" in data["padding"]:
        data["padding"]["pad_id"] = remap[data["padding"]["pad_id"]]
    with tempfile.TemporaryDirectory(prefix="ntmm-vocab-") as tmp:
        tokenizer.save_pretrained(tmp)
        folder = Path(tmp)
        (folder / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        if (folder / "vocab.txt").is_file():
            (folder / "vocab.txt").write_text("".join(id_to_token[old] + "\n" for old in vocab.kept), encoding="utf-8")
        cfg_file = folder / "tokenizer_config.json"
        cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
        if isinstance(cfg.get("added_tokens_decoder"), dict):
            cfg["added_tokens_decoder"] = {str(remap[int(k)]): v for k, v in cfg["added_tokens_decoder"].items()}
        cfg["model_max_length"] = int(max_length)
        cfg_file.write_text(json.dumps(cfg, ensure_ascii=False, indent=2), encoding="utf-8")
        return AutoTokenizer.from_pretrained(tmp)


def _remap_post_processor(pp: dict[str, Any] | None, remap: dict[int, int]) -> None:
    if not pp:
        return
    kind = pp.get("type")
    if kind == "Sequence":
        for inner in pp.get("processors") or []:
            _remap_post_processor(inner, remap)
    elif kind == "TemplateProcessing":
        for spec in (pp.get("special_tokens") or {}).values():
            spec["ids"] = [remap[i] for i in spec["ids"]]
    elif kind in ("BertProcessing", "RobertaProcessing"):
        for key in ("sep", "cls"):
            pp[key] = [pp[key][0], remap[pp[key][1]]]
    elif kind not in ("ByteLevel",):
        raise ModelError(f"Vocabulary pruning does not know the tokenizer post-processor {kind}.")


def check_same_ids(old_tok, new_tok, vocab: PrunedVocabulary, texts: Sequence[str], max_length: int) -> int:
    """Every text must tokenize to the same ids, renumbered; returns how many were checked."""
    remap = vocab.old_to_new
    for start in range(0, len(texts), BATCH):
        batch = list(texts[start:start + BATCH])
        before = old_tok(batch, truncation=True, max_length=max_length)["input_ids"]
        after = new_tok(batch, truncation=True, max_length=max_length)["input_ids"]
        for i, (a, b) in enumerate(zip(before, after)):
            if [remap.get(x, -1) for x in a] != b:
                raise ModelError(f"Vocabulary pruning changed the tokens of training text {start + i + 1}: "
                                 f"{batch[i][:80]!r}", hint="leave onnx_int8_pruned out of optimize.variants")
    return len(texts)


def prune_model(model, vocab: PrunedVocabulary, pad_token_id: int | None, max_length: int | None = None):
    """A copy of ``model`` whose word embeddings hold only ``vocab.kept`` (and, for BERT-like models,
    whose position table stops at ``max_length``, the longest input it will see)."""
    import copy

    import torch
    from torch import nn

    model = copy.deepcopy(model)
    old = model.get_input_embeddings()
    index = torch.as_tensor(vocab.kept, dtype=torch.long)
    pad = vocab.old_to_new.get(pad_token_id) if pad_token_id is not None else None
    new = nn.Embedding(len(vocab.kept), old.embedding_dim, padding_idx=pad)
    with torch.no_grad():
        new.weight.copy_(old.weight[index])
    model.set_input_embeddings(new)
    model.config.vocab_size = len(vocab.kept)
    if pad is not None:
        model.config.pad_token_id = pad
    emb = getattr(model.base_model, "embeddings", None)
    positions = getattr(emb, "position_embeddings", None)
    if max_length and isinstance(positions, nn.Embedding) and positions.num_embeddings > max_length + 2:
        keep = max_length + 2  # +2: RoBERTa-style position ids start after the padding index
        trimmed = nn.Embedding(keep, positions.embedding_dim)
        with torch.no_grad():
            trimmed.weight.copy_(positions.weight[:keep])
        emb.position_embeddings = trimmed
        for name in ("position_ids", "token_type_ids"):
            buf = getattr(emb, name, None)
            if isinstance(buf, torch.Tensor) and buf.dim() == 2:
                emb.register_buffer(name, buf[:, :keep].clone(), persistent=False)
        model.config.max_position_embeddings = keep
    return model


def bounded_tokenizer(tokenizer, max_length: int):
    """A copy of ``tokenizer`` that truncates at ``max_length`` by default: the pruned model's position table
    stops there (:func:`prune_model`), so a longer input would index past it."""
    import copy

    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.model_max_length = int(max_length)
    return tokenizer


def prune_vocabulary(model, tokenizer, texts: Sequence[str], max_length: int):
    """Prune ``model``'s word embeddings to the pieces of ``texts``; returns (model, id table, PrunedVocabulary).

    The pruned model reads ``table[input_ids]`` (the tokenizer's ids through :func:`id_table`).
    Raises :class:`ModelError` if the pruned model's logits on a sample of the texts differ from the original's
    (every piece of the texts is kept, so they must not).
    """
    import torch

    texts = [str(t) for t in texts if str(t).strip()]
    if not texts:
        raise ModelError("Vocabulary pruning needs the training texts; there are none.")
    vocab = choose_vocabulary(tokenizer, texts, max_length)
    table, sims = id_table(model.get_input_embeddings().weight, vocab.kept)
    vocab.texts_checked = len(texts)
    pruned = prune_model(model, vocab, tokenizer.pad_token_id, max_length).eval()
    sample = texts[:16]
    enc = tokenizer(sample, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    with torch.inference_mode():
        a = model.eval()(**enc).logits
        b = pruned(**{**enc, "input_ids": table[enc["input_ids"]]}).logits
    diff = float((a - b).abs().max())
    if diff > 1e-4:
        raise ModelError(f"The pruned model's logits differ from the original's by {diff:.3g} on training texts.")
    dropped = torch.ones(len(table), dtype=torch.bool)
    dropped[vocab.kept] = False
    vocab.details.update(max_abs_logit_diff_on_training_texts=diff, dropped_read_nearest=int(dropped.sum()),
                         nearest_cosine_median=round(float(sims[dropped].median()), 3) if dropped.any() else None)
    return pruned, table, vocab
