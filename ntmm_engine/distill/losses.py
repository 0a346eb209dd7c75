"""The distillation loss, as a small ``nn.Module`` that returns every component.

    L = alpha * (KL_T * T^2 + w_cos * (1 - cos(h_s, h_t)) + w_mse * MSE(z_s, z_t))
        + (1 - alpha) * CE(z_s, y)

Rows without a label (unlabelled texts the teacher labelled, ``labelled`` mask False) get the soft
part only, times ``unlabelled_weight``, and never the cross-entropy::

    L = (sum over labelled rows of L_i + w_u * sum over unlabelled rows of soft_i) / batch size

which is the formula above, exactly, when every row is labelled.

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
    """The total loss (with grad) and its unweighted components (detached floats on demand).

    ``kl``/``cos``/``mse``/``ce`` are means over the labelled rows; with a row mask, ``unlabelled``
    holds the means over the unlabelled rows (kl, cos, mse, and ``soft``, their weighted sum) and
    ``labelled`` the labelled rows' full loss, with the row counts.
    """

    total: torch.Tensor
    kl: torch.Tensor
    cos: torch.Tensor
    mse: torch.Tensor
    ce: torch.Tensor
    labelled: torch.Tensor | None = None
    unlabelled: dict[str, torch.Tensor] | None = None
    n_labelled: torch.Tensor | int | None = None
    n_unlabelled: torch.Tensor | int | None = None

    def as_floats(self) -> dict[str, float]:
        return {name: float(getattr(self, name).detach()) for name in ("total", "kl", "cos", "mse", "ce")}

    def logged(self) -> dict[str, tuple[torch.Tensor, torch.Tensor | int]]:
        """Name -> (mean, rows it is a mean over), for the training log (``loss_<name>``)."""
        n = self.n_labelled if self.n_labelled is not None else 1
        out = {k: (getattr(self, k), n) for k in ("kl", "cos", "mse", "ce")}
        if self.unlabelled is not None:
            out["labelled"] = (self.labelled, self.n_labelled)
            out["unlabelled"] = (self.unlabelled["soft"], self.n_unlabelled)
            out.update({f"{k}_unlabelled": (self.unlabelled[k], self.n_unlabelled) for k in ("kl", "cos", "mse")})
        return out


class DistillLoss(nn.Module):
    """Knowledge-distillation loss; holds the student->teacher projection when widths differ.

    ``kl`` in the returned parts is the plain batch-mean KL (before the T^2
    factor); ``cos`` is ``1 - cosine``; ``mse`` and ``ce`` are means.
    """

    def __init__(self, *, temperature: float = 3.0, alpha: float = 0.5, cosine_weight: float = 0.1,
                 mse_weight: float = 0.05, label_smoothing: float = 0.0, unlabelled_weight: float = 1.0,
                 student_hidden: int | None = None, teacher_hidden: int | None = None):
        super().__init__()
        self.temperature = float(temperature)
        self.unlabelled_weight = float(unlabelled_weight)
        self.alpha = float(alpha)
        self.cosine_weight = float(cosine_weight)
        self.mse_weight = float(mse_weight)
        self.label_smoothing = float(label_smoothing)
        needs_projection = student_hidden is not None and teacher_hidden is not None and student_hidden != teacher_hidden
        self.projection = nn.Linear(student_hidden, teacher_hidden) if needs_projection else None

    def forward(self, student_logits: torch.Tensor, student_pooled: torch.Tensor, teacher_logits: torch.Tensor,
                teacher_pooled: torch.Tensor, labels: torch.Tensor, labelled: torch.Tensor | None = None) -> LossParts:
        """``labelled``: a bool mask of the rows that have a label (None: all of them)."""
        # The teacher is a fixed target: no gradient ever flows back into it. Losses are
        # computed in float32 even under mixed precision (softmax/KL are sensitive).
        teacher_logits = teacher_logits.detach().float()
        teacher_pooled = teacher_pooled.detach().float()
        student_logits = student_logits.float()
        h_s = self.projection(student_pooled) if self.projection is not None else student_pooled
        if labelled is not None:
            return self._masked(student_logits, h_s.float(), teacher_logits, teacher_pooled, labels, labelled)
        T = self.temperature
        kl = F.kl_div(F.log_softmax(student_logits / T, dim=-1), F.log_softmax(teacher_logits / T, dim=-1),
                      reduction="batchmean", log_target=True)
        cos = (1.0 - F.cosine_similarity(h_s.float(), teacher_pooled, dim=-1)).mean()
        mse = F.mse_loss(student_logits, teacher_logits)
        ce = F.cross_entropy(student_logits, labels, label_smoothing=self.label_smoothing)
        soft = kl * T * T + self.cosine_weight * cos + self.mse_weight * mse
        return LossParts(total=self._mix(soft, ce), kl=kl, cos=cos, mse=mse, ce=ce, n_labelled=student_logits.shape[0])

    def _mix(self, soft: torch.Tensor, ce: torch.Tensor) -> torch.Tensor:
        # Skip (rather than multiply by 0) a disabled side, so alpha 0 or 1 is exact.
        if self.alpha <= 0.0:
            return ce
        if self.alpha >= 1.0:
            return soft
        return self.alpha * soft + (1.0 - self.alpha) * ce

    def _masked(self, z_s, h_s, z_t, h_t, labels, labelled) -> LossParts:
        """Per-row losses: labelled rows the full loss, unlabelled rows ``unlabelled_weight`` x the soft part.

        Means are taken with the mask as weights (no host sync: the counts stay tensors).
        """
        T = self.temperature
        lab = labelled.to(z_s.device, torch.bool)
        w_l, w_u = lab.float(), (~lab).float()
        n_l, n_u = w_l.sum(), w_u.sum()
        kl = F.kl_div(F.log_softmax(z_s / T, dim=-1), F.log_softmax(z_t / T, dim=-1),
                      reduction="none", log_target=True).sum(dim=-1)
        cos = 1.0 - F.cosine_similarity(h_s, h_t, dim=-1)
        mse = ((z_s - z_t) ** 2).mean(dim=-1)
        # Cross-entropy on labelled rows only: an unlabelled row's label (-100) is never read.
        safe = torch.where(lab, labels, torch.zeros_like(labels))
        ce = F.cross_entropy(z_s, safe, reduction="none", label_smoothing=self.label_smoothing) * w_l
        soft = kl * T * T + self.cosine_weight * cos + self.mse_weight * mse
        full = self._mix(soft, ce)
        total = ((full * w_l).sum() + self.unlabelled_weight * (soft * w_u).sum()) / z_s.shape[0]

        def mean(x, w, n):
            return (x * w).sum() / n.clamp(min=1.0)

        return LossParts(total=total, kl=mean(kl, w_l, n_l), cos=mean(cos, w_l, n_l), mse=mean(mse, w_l, n_l),
                         ce=mean(ce, w_l, n_l), labelled=mean(full, w_l, n_l),
                         unlabelled={"kl": mean(kl, w_u, n_u), "cos": mean(cos, w_u, n_u), "mse": mean(mse, w_u, n_u),
                                     "soft": mean(soft, w_u, n_u)},
                         n_labelled=n_l, n_unlabelled=n_u)
