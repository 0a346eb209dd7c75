"""Teacher outputs for distillation: computed once and cached, or run live.

Without data augmentation every epoch shows the teacher the same texts, so
its logits and mean-pooled last hidden state are computed once per example
(batched, eval mode, no grad) and stored as ``<run>/distill/cache/<key>.safetensors``
(no pickle). The key combines the data fingerprint, the teacher's identity and
``max_length``, so a second run with the same inputs reuses the file. Outputs
are stored per example *index* of each split, which keeps the cache valid
when the student's tokenizer differs from the teacher's.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..core.events import CancelToken, EventCallback, ProgressReporter

CACHE_PHASE = "caching teacher outputs"


CACHE_FORMAT = "ntmm-teacher-cache-1"


def cache_key(data_fingerprint: str, teacher_identity: str, max_length: int) -> str:
    raw = f"{CACHE_FORMAT}|{data_fingerprint}|{teacher_identity}|{int(max_length)}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def cache_path(stage_dir: str | Path, key: str) -> Path:
    return Path(stage_dir) / "cache" / f"{key}.safetensors"


@dataclass
class TeacherOutputs:
    """Teacher logits per split (rows = example index) and pooled hidden states of the train split."""

    logits: dict[str, Any] = field(default_factory=dict)  # split -> float32 tensor [N, C]
    pooled: Any = None  # float32 tensor [N_train, H] or None

    def predictions(self, split: str):
        return self.logits[split].argmax(dim=-1).numpy()


def model_inputs(batch: dict[str, Any], tokenizer) -> dict[str, Any]:
    """The keys of ``batch`` the model reads (input_ids, attention_mask, token_type_ids...)."""
    return {k: batch[k] for k in tokenizer.model_input_names if k in batch}


def teacher_forward(teacher, inputs: dict[str, Any]):
    """Logits and mean-pooled last hidden state, without gradients."""
    import torch

    from .losses import mean_pool

    with torch.no_grad():
        out = teacher(**inputs, output_hidden_states=True)
        return out.logits, mean_pool(out.hidden_states[-1], inputs["attention_mask"])


def compute_teacher_outputs(teacher, tokenizer, tokenized: dict[str, Any], *, splits: Sequence[str],
                            pooled_split: str | None, batch_size: int, device: str, job: str,
                            on_event: EventCallback, cancel: CancelToken | None, phase: str = CACHE_PHASE,
                            progress: ProgressReporter | None = None) -> TeacherOutputs:
    """Run the teacher over ``splits`` of the teacher-tokenized data (Progress events, cancellable).

    ``progress``: a reporter that counts this call as part of a larger phase (the unlabelled texts' chunks).
    """
    import torch
    from transformers import DataCollatorWithPadding

    collator = DataCollatorWithPadding(tokenizer)
    teacher.eval()
    teacher.to(device)
    total = sum(len(tokenized[s]) for s in splits)
    progress = progress or ProgressReporter(job, phase, total, on_event, cancel)
    result = TeacherOutputs()
    for split in splits:
        ds = tokenized[split]
        columns = [c for c in tokenizer.model_input_names if c in ds.column_names]
        ds = ds.select_columns(columns)
        # Sorting by length keeps padding (and time) low; rows are put back by index.
        lengths = [len(x) for b in ds.iter(batch_size=1024) for x in b["input_ids"]]  # without loading it all
        order = sorted(range(len(ds)), key=lengths.__getitem__)
        logits = pooled = None
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            rows = ds[idx]
            batch = collator([{k: rows[k][j] for k in columns} for j in range(len(idx))])
            z, h = teacher_forward(teacher, {k: v.to(device) for k, v in batch.items()})
            if logits is None:
                logits = torch.empty(len(ds), z.shape[-1], dtype=torch.float32)
                pooled = torch.empty(len(ds), h.shape[-1], dtype=torch.float32) if split == pooled_split else None
            where = torch.tensor(idx)
            logits[where] = z.float().cpu()
            if pooled is not None:
                pooled[where] = h.float().cpu()
            progress.advance(len(idx))
        result.logits[split] = logits
        if split == pooled_split:
            result.pooled = pooled
    return result


def save_cache(path: str | Path, outputs: TeacherOutputs, metadata: dict[str, str]) -> Path:
    """Write the cache atomically (temp file + rename) as safetensors."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"{s}.logits": t.contiguous() for s, t in outputs.logits.items()}
    if outputs.pooled is not None:
        tensors["train.pooled"] = outputs.pooled.contiguous()
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata={k: str(v) for k, v in metadata.items()})
    os.replace(tmp, path)
    return path


def load_cache(path: str | Path, sizes: dict[str, int]) -> TeacherOutputs | None:
    """The cached outputs, or None when the file is missing, damaged or does not fit ``sizes``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        return None
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError, ValueError):
        return None
    out = TeacherOutputs()
    for split, n in sizes.items():
        t = tensors.get(f"{split}.logits")
        if t is None or t.shape[0] != n:
            return None
        out.logits[split] = t
    out.pooled = tensors.get("train.pooled")
    if out.pooled is None or out.pooled.shape[0] != sizes.get("train", -1):
        return None
    return out


# ------------------------------------------------- unlabelled texts, in chunks
UNLABELLED_FORMAT = "ntmm-teacher-cache-unlabelled-1"
UNLABELLED_PHASE = "teacher labelling the unlabelled texts"
CHUNK_ROWS = 1024  # texts per cache file: a cancel loses at most this many texts' work


def unlabelled_cache_dir(stage_dir: str | Path, key: str) -> Path:
    """The folder of one set of unlabelled texts' teacher outputs (``key``: :func:`cache_key` of their fingerprint)."""
    return Path(stage_dir) / "cache" / f"unlabelled-{key}"


@dataclass
class UnlabelledOutputs:
    """The teacher's logits and pooled hidden states on the unlabelled texts (rows in their order)."""

    logits: Any  # float32 tensor [U, C]
    pooled: Any  # float32 tensor [U, H]
    info: dict[str, Any] = field(default_factory=dict)  # path, key, chunks, cached_chunks, hit, seconds


def label_unlabelled(teacher, tokenizer, tokenized, folder: str | Path, *, batch_size: int, device: str, job: str,
                     on_event: EventCallback, cancel: CancelToken | None, metadata: dict[str, str],
                     chunk_rows: int | None = None, save: bool = True) -> UnlabelledOutputs:
    """The teacher's outputs on the teacher-tokenized unlabelled texts, computed once and kept in chunks.

    Each chunk of ``chunk_rows`` texts is written (atomically) as soon as it is done, so a cancelled
    or crashed run keeps what was labelled, and the next run with the same key labels only the rest.
    Hand-written because the training cache is one file written at the end: for a hospital's notes
    the labelling itself can take hours, and losing it to a cancel is what this avoids.
    """
    import time

    import torch

    folder = Path(folder)
    chunk_rows = chunk_rows or CHUNK_ROWS
    n = len(tokenized)
    chunks = max((n + chunk_rows - 1) // chunk_rows, 1)
    parts: dict[int, tuple[Any, Any]] = {}
    for i in range(chunks):
        rows = min(chunk_rows, n - i * chunk_rows)
        loaded = _load_chunk(folder / _chunk_name(i), rows, metadata)
        if loaded is not None:
            parts[i] = loaded
    cached = len(parts)
    progress = ProgressReporter(job, UNLABELLED_PHASE, n, on_event, cancel)
    if cached:
        progress.advance(sum(t[0].shape[0] for t in parts.values()),
                         message=f"{cached} of {chunks} chunks labelled by an earlier run", force=True)
    started = time.monotonic()
    for i in range(chunks):
        if i in parts:
            continue
        part = tokenized.select(range(i * chunk_rows, min((i + 1) * chunk_rows, n)))
        out = compute_teacher_outputs(teacher, tokenizer, {"unlabelled": part}, splits=("unlabelled",),
                                      pooled_split="unlabelled", batch_size=batch_size, device=device, job=job,
                                      on_event=on_event, cancel=cancel, progress=progress)
        parts[i] = (out.logits["unlabelled"], out.pooled)
        if save:
            _save_chunk(folder / _chunk_name(i), *parts[i], {**metadata, "chunk": str(i), "rows": str(part.num_rows)})
    logits = torch.cat([parts[i][0] for i in range(chunks)])
    pooled = torch.cat([parts[i][1] for i in range(chunks)])
    info = {"path": str(folder), "chunks": chunks, "cached_chunks": cached, "hit": cached == chunks,
            "seconds": time.monotonic() - started}
    return UnlabelledOutputs(logits=logits, pooled=pooled, info=info)


def _chunk_name(i: int) -> str:
    return f"chunk-{i:05d}.safetensors"


def _save_chunk(path: Path, logits, pooled, metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file({"logits": logits.contiguous(), "pooled": pooled.contiguous()}, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def _load_chunk(path: Path, rows: int, metadata: dict[str, str]):
    """(logits, pooled) of a chunk written for the same texts and teacher, or None."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
            if any(meta.get(k) != v for k, v in metadata.items()) or meta.get("rows") != str(rows):
                return None
            logits, pooled = f.get_tensor("logits"), f.get_tensor("pooled")
    except (OSError, SafetensorError, ValueError, KeyError):
        return None
    return (logits, pooled) if logits.shape[0] == pooled.shape[0] == rows else None


# ------------------------------------------------------------ batch sources
class CachedTeacher:
    """Teacher outputs for a training batch, looked up by example index."""

    def __init__(self, outputs: TeacherOutputs):
        self.logits = outputs.logits["train"]
        self.pooled = outputs.pooled

    def __call__(self, idx, inputs: dict[str, Any]):
        rows = idx.cpu()
        device = inputs["input_ids"].device
        return self.logits[rows].to(device), self.pooled[rows].to(device)


class LiveTeacher:
    """Runs the teacher on each training batch (eval mode, no grad, frozen weights).

    With the same tokenizer the student's batch is fed as is; otherwise the
    batch's texts (found by example index) are tokenized for the teacher.
    """

    def __init__(self, teacher, tokenizer, *, same_tokenizer: bool = True, texts: Sequence[str] | None = None,
                 max_length: int = 512):
        self.teacher, self.tokenizer = teacher, tokenizer
        self.same_tokenizer, self.texts, self.max_length = same_tokenizer, texts, max_length
        teacher.eval()
        teacher.requires_grad_(False)
        if not same_tokenizer and texts is None:
            raise ValueError("a teacher with its own tokenizer needs the texts")

    def __call__(self, idx, inputs: dict[str, Any]):
        device = inputs["input_ids"].device
        self.teacher.eval()  # Trainer.train() puts only the student in train mode, but be sure
        if self.same_tokenizer:
            t_inputs = model_inputs(inputs, self.tokenizer)
        else:
            texts = [self.texts[i] for i in idx.tolist()]
            t_inputs = dict(self.tokenizer(texts, truncation=True, max_length=self.max_length, padding=True,
                                           return_tensors="pt"))
            t_inputs = {k: v.to(device) for k, v in model_inputs(t_inputs, self.tokenizer).items()}
        return teacher_forward(self.teacher, t_inputs)
