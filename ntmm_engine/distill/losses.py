"""The distillation loss, as a small ``nn.Module`` that returns every component.

    L = alpha * (KL_T * T^2 + w_cos * (1 - cos(h_s, h_t)) + w_mse * MSE(z_s, z_t))
        + (1 - alpha) * CE(z_s, y)

``z`` are logits, ``h`` mean-pooled last hidden states (real tokens only),
``KL_T`` the batch-mean KL divergence between the teacher's and the student's
temperature-softened distributions (times T^2 so its gradients keep their size
when T changes, Hinton et al. 2015). When the student is narrower or wider
than the teacher, a learned linear projection maps ``h_s`` to the teacher's
width; it trains with the student and is dropped when the student is saved.

Hand-written because transformers has no distillation loss; torch supplies
every piece (kl_div, cosine_similarity, mse_loss, cross_entropy).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden`` [B, L, H] over the positions where ``attention_mask`` is 1 (in float32)."""
    hidden = hidden.float()  # bf16/fp16 sums over long sequences lose precision
    mask = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


@dataclass
class LossParts:
    """The total loss (with grad) and its unweighted components (detached floats on demand)."""

    total: torch.Tensor
    kl: torch.Tensor
    cos: torch.Tensor
    mse: torch.Tensor
    ce: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        return {name: float(getattr(self, name).detach()) for name in ("total", "kl", "cos", "mse", "ce")}


class DistillLoss(nn.Module):
    """Knowledge-distillation loss; holds the student->teacher projection when widths differ.

    ``kl`` in the returned parts is the plain batch-mean KL (before the T^2
    factor); ``cos`` is ``1 - cosine``; ``mse`` and ``ce`` are means.
    """

    def __init__(self, *, temperature: float = 3.0, alpha: float = 0.5, cosine_weight: float = 0.1,
                 mse_weight: float = 0.05, label_smoothing: float = 0.0,
                 student_hidden: int | None = None, teacher_hidden: int | None = None):
        super().__init__()
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.cosine_weight = float(cosine_weight)
        self.mse_weight = float(mse_weight)
        self.label_smoothing = float(label_smoothing)
        needs_projection = student_hidden is not None and teacher_hidden is not None and student_hidden != teacher_hidden
        self.projection = nn.Linear(student_hidden, teacher_hidden) if needs_projection else None

    def forward(self, student_logits: torch.Tensor, student_pooled: torch.Tensor, teacher_logits: torch.Tensor,
                teacher_pooled: torch.Tensor, labels: torch.Tensor) -> LossParts:
        # The teacher is a fixed target: no gradient ever flows back into it. Losses are
        # computed in float32 even under mixed precision (softmax/KL are sensitive).
        teacher_logits = teacher_logits.detach().float()
        teacher_pooled = teacher_pooled.detach().float()
        student_logits = student_logits.float()
        T = self.temperature
        kl = F.kl_div(F.log_softmax(student_logits / T, dim=-1), F.log_softmax(teacher_logits / T, dim=-1),
                      reduction="batchmean", log_target=True)
        h_s = self.projection(student_pooled) if self.projection is not None else student_pooled
        cos = (1.0 - F.cosine_similarity(h_s.float(), teacher_pooled, dim=-1)).mean()
        mse = F.mse_loss(student_logits, teacher_logits)
        ce = F.cross_entropy(student_logits, labels, label_smoothing=self.label_smoothing)
        soft = kl * T * T + self.cosine_weight * cos + self.mse_weight * mse
        # Skip (rather than multiply by 0) a disabled side, so alpha 0 or 1 is exact.
        if self.alpha <= 0.0:
            total = ce
        elif self.alpha >= 1.0:
            total = soft
        else:
            total = self.alpha * soft + (1.0 - self.alpha) * ce
        return LossParts(total=total, kl=kl, cos=cos, mse=mse, ce=ce)
