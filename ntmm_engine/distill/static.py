"""The static-embedding student: one vector per word piece, mean-pooled, and a small head.

Built from the fine-tuned teacher in three steps:

1. **Token vectors.** Every word piece of the (pruned, :mod:`.vocab`)
   vocabulary goes through the teacher's encoder alone (``[CLS] piece [SEP]``);
   the mean of its last hidden state is the piece's vector, reduced to
   ``dim`` dimensions with PCA (scikit-learn).
2. **Head.** Texts become the mean of their pieces' vectors; a linear head
   (or one hidden ReLU layer) is trained with the teacher's logits (KL at
   temperature T, weight alpha) and the labels (cross-entropy), the vectors
   fine-tuned with it; the best epoch on validation macro-F1 is kept.
3. **Export.** ``model.onnx`` (Gather, masked mean, MatMul: ONNX Runtime runs
   it like the other variants, through the same :class:`Predictor`) and the
   same weights as ``static.safetensors`` + ``static.json``, no pickle.

Why not model2vec: its ``distill()`` turns a *sentence-transformer* base
into token vectors (the same step 1, plus Zipf weighting), needs its
``distill`` extra, and its ``StaticModel`` has no classifier trained on a
teacher's logits; the classifier NTMM needs (step 2) would be written here
anyway. Step 1 is a few lines with the teacher already loaded, and the
teacher here is a fine-tuned classifier whose encoder carries the task.

The training loop is hand-written too: one step of this model takes
microseconds, so the ``Trainer``'s per-step machinery (and its checkpoints,
useless for a job of seconds) would cost more than the training itself.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..core.errors import ModelError

WEIGHTS_FILE = "static.safetensors"
CONFIG_FILE = "static.json"
ONNX_FILE = "model.onnx"
FORMAT = "ntmm-static-1"


@dataclass
class StaticSettings:
    dim: int = 256
    hidden: int = 0  # 0 = linear head
    epochs: int = 40
    min_steps: int = 500  # small data: train at least this many steps (as the auto recipe does), whatever ``epochs`` says
    learning_rate: float = 1e-2
    batch_size: int = 32
    temperature: float = 3.0
    alpha: float = 0.5
    patience: int = 6
    dropout: float = 0.1
    weight_decay: float = 1e-4
    seed: int = 42


# ------------------------------------------------------------------ step 1: token vectors
def token_vectors(teacher, tokenizer, token_ids: Sequence[int], *, batch_size: int = 512,
                  on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """The teacher encoder's mean last hidden state of ``[CLS] piece [SEP]``, per piece (float32, [n, hidden])."""
    import torch

    encoder = getattr(teacher, "base_model", teacher).eval()
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    out = []
    ids = list(token_ids)
    with torch.inference_mode():
        for start in range(0, len(ids), batch_size):
            chunk = torch.as_tensor(ids[start:start + batch_size], dtype=torch.long)[:, None]
            parts = [chunk] if cls is None else [torch.full_like(chunk, cls), chunk]
            if sep is not None:
                parts.append(torch.full_like(chunk, sep))
            inputs = torch.cat(parts, dim=1)
            hidden = encoder(input_ids=inputs, attention_mask=torch.ones_like(inputs)).last_hidden_state
            out.append(hidden.mean(dim=1).float().numpy())
            if on_progress is not None:
                on_progress(min(start + batch_size, len(ids)), len(ids))
    return np.concatenate(out, axis=0)


def reduce_dim(vectors: np.ndarray, dim: int, seed: int) -> np.ndarray:
    """PCA to ``dim`` dimensions (as model2vec does), scaled to unit average norm."""
    from sklearn.decomposition import PCA

    if dim < vectors.shape[1] and dim < vectors.shape[0]:
        vectors = PCA(n_components=dim, random_state=seed).fit_transform(vectors)
    vectors = vectors - vectors.mean(axis=0, keepdims=True)
    return (vectors / max(float(np.linalg.norm(vectors, axis=1).mean()), 1e-8)).astype(np.float32)


# ------------------------------------------------------------------ the model
def static_module(embeddings: np.ndarray, num_labels: int, hidden: int = 0, dropout: float = 0.0):
    """The torch module: masked mean of token vectors, then a linear head (or one hidden ReLU layer)."""
    import torch
    from torch import nn

    class StaticClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embeddings = nn.Embedding.from_pretrained(torch.as_tensor(embeddings), freeze=False)
            dim = embeddings.shape[1]
            self.drop = nn.Dropout(dropout)
            self.hidden = nn.Linear(dim, hidden) if hidden else None
            self.out = nn.Linear(hidden or dim, num_labels)

        def forward(self, input_ids, attention_mask):
            mask = attention_mask.to(self.embeddings.weight.dtype).unsqueeze(-1)
            pooled = (self.embeddings(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            x = self.drop(pooled)
            if self.hidden is not None:
                x = torch.relu(self.hidden(x))
            return self.out(x)

    return StaticClassifier()


def weights_of(module) -> dict[str, np.ndarray]:
    out = {"embeddings": module.embeddings.weight.detach().numpy().astype(np.float32),
           "out.weight": module.out.weight.detach().numpy().astype(np.float32),
           "out.bias": module.out.bias.detach().numpy().astype(np.float32)}
    if module.hidden is not None:
        out["hidden.weight"] = module.hidden.weight.detach().numpy().astype(np.float32)
        out["hidden.bias"] = module.hidden.bias.detach().numpy().astype(np.float32)
    return out


def numpy_logits(weights: dict[str, np.ndarray], input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """The static student's forward pass in numpy (what the ONNX graph computes)."""
    mask = attention_mask.astype(np.float32)[..., None]
    pooled = (weights["embeddings"][input_ids] * mask).sum(1) / np.maximum(mask.sum(1), 1.0)
    if "hidden.weight" in weights:
        pooled = np.maximum(pooled @ weights["hidden.weight"].T + weights["hidden.bias"], 0.0)
    return pooled @ weights["out.weight"].T + weights["out.bias"]


# ------------------------------------------------------------------ step 2: training
def train_static(embeddings: np.ndarray, train: dict[str, np.ndarray], validation: dict[str, np.ndarray],
                 num_labels: int, s: StaticSettings, *, teacher_logits: np.ndarray | None,
                 metric: Callable[[np.ndarray, np.ndarray], float],
                 on_epoch: Callable[[int, int, float], None] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Train the head and fine-tune the vectors; returns the best epoch's weights and a training summary.

    ``train``/``validation``: ``input_ids``, ``attention_mask`` (padded int64 arrays) and ``labels``.
    ``metric(labels, predictions)`` picks the best epoch on validation (macro-F1).
    """
    import torch
    import torch.nn.functional as F

    torch.manual_seed(s.seed)
    model = static_module(embeddings, num_labels, s.hidden, s.dropout)
    opt = torch.optim.AdamW(model.parameters(), lr=s.learning_rate, weight_decay=s.weight_decay)
    ids, mask = torch.as_tensor(train["input_ids"]), torch.as_tensor(train["attention_mask"])
    labels = torch.as_tensor(train["labels"], dtype=torch.long)
    soft = torch.as_tensor(teacher_logits, dtype=torch.float32) if teacher_logits is not None else None
    v_ids, v_mask = torch.as_tensor(validation["input_ids"]), torch.as_tensor(validation["attention_mask"])
    gen = torch.Generator().manual_seed(s.seed)
    best, best_state, best_epoch, waited, history = -1.0, None, 0, 0, []
    t0 = time.monotonic()
    T, alpha = s.temperature, s.alpha if soft is not None else 0.0
    steps_per_epoch = -(-len(labels) // s.batch_size)
    epochs = max(s.epochs, -(-s.min_steps // steps_per_epoch))
    patience = max(s.patience, epochs // 5)
    for epoch in range(1, epochs + 1):
        model.train()
        for batch in torch.randperm(len(labels), generator=gen).split(s.batch_size):
            logits = model(ids[batch], mask[batch])
            loss = (1 - alpha) * F.cross_entropy(logits, labels[batch])
            if alpha:
                loss = loss + alpha * T * T * F.kl_div(F.log_softmax(logits / T, -1), F.softmax(soft[batch] / T, -1),
                                                       reduction="batchmean")
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.inference_mode():
            score = float(metric(validation["labels"], model(v_ids, v_mask).argmax(-1).numpy()))
        history.append(score)
        if on_epoch is not None:
            on_epoch(epoch, epochs, score)
        if score > best:
            best, best_epoch, waited = score, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= patience:
                break
    model.load_state_dict(best_state)
    return weights_of(model), {"best_epoch": best_epoch, "epochs_run": len(history), "validation_macro_f1": history,
                               "train_seconds": round(time.monotonic() - t0, 2), "kd": soft is not None}


# ------------------------------------------------------------------ step 3: files
def onnx_graph(weights: dict[str, np.ndarray], opset: int = 17):
    """The forward pass as an ONNX graph: Gather, masked mean, MatMul (+ ReLU).

    Built node by node: six operators are clearer here than tracing a module
    through an exporter, and the graph has no shape tricks to get wrong.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(weights["embeddings"], "embeddings"),
             numpy_helper.from_array(np.asarray([1], dtype=np.int64), "axis1"),
             numpy_helper.from_array(np.asarray([2], dtype=np.int64), "axis2"),
             numpy_helper.from_array(np.asarray(1.0, dtype=np.float32), "one")]
    nodes = [helper.make_node("Gather", ["embeddings", "input_ids"], ["emb"]),
             helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
             helper.make_node("Mul", ["emb", "mask3"], ["masked"]),
             helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
             helper.make_node("ReduceSum", ["maskf", "axis1"], ["count"], keepdims=1),
             helper.make_node("Max", ["count", "one"], ["count1"]),
             helper.make_node("Div", ["summed", "count1"], ["pooled"])]
    x = "pooled"
    if "hidden.weight" in weights:
        inits += [numpy_helper.from_array(np.ascontiguousarray(weights["hidden.weight"].T), "hidden_w"),
                  numpy_helper.from_array(weights["hidden.bias"], "hidden_b")]
        nodes += [helper.make_node("MatMul", [x, "hidden_w"], ["h0"]), helper.make_node("Add", ["h0", "hidden_b"], ["h1"]),
                  helper.make_node("Relu", ["h1"], ["h"])]
        x = "h"
    inits += [numpy_helper.from_array(np.ascontiguousarray(weights["out.weight"].T), "out_w"),
              numpy_helper.from_array(weights["out.bias"], "out_b")]
    nodes += [helper.make_node("MatMul", [x, "out_w"], ["o0"]), helper.make_node("Add", ["o0", "out_b"], ["logits"])]
    n_labels = int(weights["out.bias"].shape[0])
    graph = helper.make_graph(
        nodes, "ntmm_static_student",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "sequence_length"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", n_labels])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="ntmm")
    model.ir_version = min(model.ir_version, 8)  # readable by ONNX Runtime releases from 1.14 on
    onnx.checker.check_model(model)
    return model


def save_static(folder: str | Path, weights: dict[str, np.ndarray], tokenizer, info: dict[str, Any]) -> None:
    """Write ``model.onnx``, ``static.safetensors``, ``static.json`` and the tokenizer into ``folder``."""
    import onnx
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in weights.items()}, str(folder / WEIGHTS_FILE))
    onnx.save(onnx_graph(weights), str(folder / ONNX_FILE))
    (folder / CONFIG_FILE).write_text(json.dumps({
        "format": FORMAT, "vocab_size": int(weights["embeddings"].shape[0]), "dim": int(weights["embeddings"].shape[1]),
        "hidden": int(weights["hidden.bias"].shape[0]) if "hidden.bias" in weights else 0,
        "num_labels": int(weights["out.bias"].shape[0]), "pooling": "mean over the attention mask", **info},
        indent=2), encoding="utf-8")
    tokenizer.save_pretrained(folder)


def load_static(folder: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The weights and ``static.json`` of a saved static student (safetensors: no code runs on load)."""
    from safetensors.numpy import load_file

    folder = Path(folder)
    if not (folder / WEIGHTS_FILE).is_file() or not (folder / CONFIG_FILE).is_file():
        raise ModelError(f"{folder} is not a static student (no {WEIGHTS_FILE} / {CONFIG_FILE}).")
    try:
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        weights = load_file(str(folder / WEIGHTS_FILE))
    except (OSError, ValueError) as exc:
        raise ModelError(f"The static student in {folder} cannot be read: {exc}") from None
    if config.get("format") != FORMAT or "embeddings" not in weights:
        raise ModelError(f"{folder / CONFIG_FILE} is not an NTMM static student ({config.get('format')}).")
    return weights, config
