"""The transfer set: the labelled training texts plus unlabelled texts the teacher labelled.

With ``data.unlabelled`` the student trains on both (DistilBERT's and TinyBERT's transfer sets,
"Well-Read Students Learn Better"): labelled rows with the full distillation loss, unlabelled rows
with its soft part only (:class:`~ntmm_engine.distill.losses.DistillLoss` with a row mask; their
labels are -100, the Hugging Face convention for "no label"). Each epoch holds every labelled
row and up to ``distill.unlabelled_per_epoch`` unlabelled ones (auto: 4 per labelled row, so the
labels keep their weight when the notes are many); with more unlabelled texts than that, each
epoch takes the next ones of a seeded order, so all are used before any is used twice.

Unlabelled rows count as training rows for the ``auto`` recipe (:func:`student_plan`): an epoch
is labelled + per-epoch unlabelled rows, and its 3 epochs / 600-step floor apply to that. The
no-distillation baseline has no teacher, hence no use for unlabelled texts: it stays labelled-only
with its own plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.config import AUTO, DistillConfig
from ..core.results import Record
from ..train.plan import TrainingPlan, plan_training

AUTO_PER_LABELLED = 4  # unlabelled rows per labelled row in an epoch, with unlabelled_per_epoch: auto
SHIFT_WARNING = 0.2  # total variation distance above which the teacher's labels on the unlabelled texts are called far off
NO_LABEL = -100  # the label of an unlabelled row (ignored by cross-entropy, the HF convention)


@dataclass
class UnlabelledUse(Record):
    """How the unlabelled texts were used (part of the distillation result)."""

    texts: int = 0  # usable after the data check
    confident: int = 0  # of those, the ones whose teacher top probability passed min_confidence (all when 0)
    min_confidence: float = 0.0
    per_epoch: int = 0  # unlabelled rows in each epoch of the student's training
    labelled: int = 0  # labelled rows in each epoch
    weight: float = 1.0
    dropped: dict[str, int] = field(default_factory=dict)  # from the data check: reason -> texts
    mean_confidence: float | None = None  # the teacher's mean top probability on the texts used
    teacher_distribution: dict[str, float] = field(default_factory=dict)  # label -> share of the teacher's labels on the texts used
    train_distribution: dict[str, float] = field(default_factory=dict)  # label -> share in the labelled training split
    shift: float = 0.0  # total variation distance between the two (0 = same, 1 = disjoint)
    warning: str = ""
    cache: dict[str, Any] = field(default_factory=dict)  # path, chunks, cached_chunks, hit, seconds

    def summary_text(self) -> str:
        conf = (f", {self.confident} with teacher confidence >= {self.min_confidence:g}" if self.min_confidence > 0 else "")
        return (f"Unlabelled texts: {self.texts} used with the teacher's labels{conf}; {self.per_epoch} an epoch next to "
                f"{self.labelled} labelled ones, weight {self.weight:g} (soft loss only); the teacher's label distribution on "
                f"them against the training labels: shift {self.shift:.2f}")


def per_epoch(d: DistillConfig, labelled: int, available: int) -> int:
    """Unlabelled rows in each epoch: ``unlabelled_per_epoch`` (auto: 4 per labelled row), at most ``available``."""
    cap = AUTO_PER_LABELLED * labelled if d.unlabelled_per_epoch == AUTO else int(d.unlabelled_per_epoch)
    return max(min(int(available), cap), 0)


def student_plan(d: DistillConfig, labelled: int, unlabelled: int = 0, devices: int = 1) -> TrainingPlan:
    """The distilled student's plan: its epochs hold the labelled rows and the per-epoch unlabelled ones."""
    return plan_training(d, labelled + per_epoch(d, labelled, unlabelled), devices=devices)


def confident_rows(logits, min_confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the rows whose top softmax probability is at least ``min_confidence``, and every row's top probability."""
    import torch

    top = torch.softmax(logits.float(), dim=-1).max(dim=-1).values.numpy()
    keep = np.flatnonzero(top >= min_confidence) if min_confidence > 0 else np.arange(len(top))
    return keep, top


def label_shift(teacher_preds: np.ndarray, train_labels: list[int], names: list[str]) -> tuple[dict, dict, float]:
    """The teacher's label distribution on the unlabelled texts, the training one, and their total variation distance."""
    k = len(names)
    t = np.bincount(np.asarray(teacher_preds, dtype=int), minlength=k) / max(len(teacher_preds), 1)
    y = np.bincount(np.asarray(train_labels, dtype=int), minlength=k) / max(len(train_labels), 1)
    return ({n: float(v) for n, v in zip(names, t)}, {n: float(v) for n, v in zip(names, y)},
            float(0.5 * np.abs(t - y).sum()))


def shift_warning(shift: float, teacher: dict[str, float], train: dict[str, float]) -> str:
    if shift <= SHIFT_WARNING:
        return ""
    most = max(teacher, key=lambda n: teacher[n] - train.get(n, 0.0))
    return (f"The teacher's labels on the unlabelled texts are distributed far from the training labels (total variation "
            f"{shift:.2f}; e.g. '{most}' {teacher[most]:.0%} against {train.get(most, 0.0):.0%} in training): the unlabelled "
            "texts may come from another population or another mix of classes. Check them, or raise "
            "distill.unlabelled_min_confidence.")


@dataclass
class TransferSet:
    """The student's training rows: the labelled ones (``idx`` 0..labelled-1), then the unlabelled pool."""

    dataset: Any  # tokenized rows with idx and labels (-100 on unlabelled rows)
    labelled: int
    unlabelled: int
    per_epoch: int
    texts: list[str]  # the pool's texts (a live teacher with its own tokenizer reads them)
    logits: Any  # the teacher's outputs on the pool, in its order
    pooled: Any
    lengths: list[int] | None = None  # token lengths of every row, when batches are grouped by length

    def sampler(self, seed: int, group_size: int) -> "EpochMixSampler":
        return EpochMixSampler(self.labelled, self.unlabelled, self.per_epoch, seed, lengths=self.lengths,
                               group_size=group_size)


def mixed_dataset(train, unlabelled):
    """``train`` (tokenized, with idx) followed by the tokenized unlabelled rows, labelled -100, idx continuing."""
    import datasets

    train = train.cast_column("labels", datasets.Value("int64"))
    n, u = len(train), len(unlabelled)
    rows = unlabelled.add_column("labels", [NO_LABEL] * u).add_column("idx", list(range(n, n + u)))
    rows = rows.select_columns(train.column_names).cast(train.features)
    return datasets.concatenate_datasets([train, rows])


class EpochMixSampler:
    """Row order of one epoch: every labelled row and the epoch's unlabelled rows, shuffled (or length-grouped).

    The Trainer has no sampler that draws a different subset each epoch, hence this one. It is
    deterministic in (seed, epoch), which is what resuming needs: the Trainer calls
    :meth:`set_epoch` (through accelerate's data loader) and skips the batches already trained.
    Rows ``0 .. labelled-1`` are labelled; rows ``labelled ..`` the unlabelled pool.
    """

    def __init__(self, labelled: int, unlabelled: int, per_epoch: int, seed: int, *,
                 lengths: list[int] | None = None, group_size: int = 1):
        self.labelled, self.unlabelled, self.per_epoch = int(labelled), int(unlabelled), int(per_epoch)
        self.seed, self.lengths, self.group_size = int(seed), lengths, max(int(group_size), 1)
        self.epoch = 0
        self.pool = np.random.default_rng([self.seed, 7919]).permutation(self.unlabelled)  # the order they are taken in

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.labelled + self.per_epoch

    def unlabelled_rows(self, epoch: int) -> np.ndarray:
        """The pool rows (0-based in the pool) of ``epoch``: the next ``per_epoch`` of the seeded order."""
        if not self.per_epoch or not self.unlabelled:
            return np.empty(0, dtype=int)
        start = (epoch * self.per_epoch) % self.unlabelled
        return np.take(self.pool, np.arange(start, start + self.per_epoch), mode="wrap")

    def rows(self, epoch: int) -> list[int]:
        rows = np.concatenate([np.arange(self.labelled), self.labelled + self.unlabelled_rows(epoch)])
        if self.lengths is None:
            return rows[np.random.default_rng([self.seed, epoch]).permutation(len(rows))].tolist()
        import torch
        from transformers.trainer_pt_utils import get_length_grouped_indices

        g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = get_length_grouped_indices([self.lengths[i] for i in rows], self.group_size, generator=g)
        return rows[order].tolist()

    def __iter__(self):
        return iter(self.rows(self.epoch))

