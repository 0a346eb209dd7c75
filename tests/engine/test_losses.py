"""The distillation loss against hand-computed values, and where gradients go."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from ntmm_engine.distill.losses import DistillLoss, mean_pool

S_LOGITS = [[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]]
T_LOGITS = [[1.0, 1.5, -0.5], [-1.0, 2.0, 0.0]]
LABELS = [0, 2]


def _inputs(width_s: int = 4, width_t: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return dict(student_logits=torch.tensor(S_LOGITS, requires_grad=True),
                student_pooled=torch.randn(2, width_s, generator=g, requires_grad=True),
                teacher_logits=torch.tensor(T_LOGITS), teacher_pooled=torch.randn(2, width_t, generator=g),
                labels=torch.tensor(LABELS))


def _softmax(row, T):
    e = [math.exp(v / T) for v in row]
    return [x / sum(e) for x in e]


def _hand_kl(T: float) -> float:
    """KL(p_teacher || p_student) at temperature T, averaged over the batch (plain Python)."""
    total = 0.0
    for s, t in zip(S_LOGITS, T_LOGITS):
        ps, pt = _softmax(s, T), _softmax(t, T)
        total += sum(b * (math.log(b) - math.log(a)) for a, b in zip(ps, pt))
    return total / len(S_LOGITS)


def _hand_ce(smoothing: float) -> float:
    total = 0.0
    for s, y in zip(S_LOGITS, LABELS):
        logp = [math.log(p) for p in _softmax(s, 1.0)]
        total += -(1 - smoothing) * logp[y] - smoothing * sum(logp) / len(logp)
    return total / len(S_LOGITS)


def _hand_cos(h_s, h_t) -> float:
    return float((1 - F.cosine_similarity(h_s, h_t, dim=-1)).mean().detach())


def _hand_mse() -> float:
    diffs = [(a - b) ** 2 for s, t in zip(S_LOGITS, T_LOGITS) for a, b in zip(s, t)]
    return sum(diffs) / len(diffs)


@pytest.mark.parametrize("T", [1.0, 2.0, 4.0])
def test_components_and_total_match_hand_computed_values(T):
    x = _inputs()
    loss = DistillLoss(temperature=T, alpha=0.3, cosine_weight=0.7, mse_weight=0.2, label_smoothing=0.1)
    p = loss(**x)
    kl, ce, mse = _hand_kl(T), _hand_ce(0.1), _hand_mse()
    cos = _hand_cos(x["student_pooled"], x["teacher_pooled"])
    assert p.kl.item() == pytest.approx(kl, rel=1e-5)
    assert p.ce.item() == pytest.approx(ce, rel=1e-5)
    assert p.mse.item() == pytest.approx(mse, rel=1e-5)
    assert p.cos.item() == pytest.approx(cos, rel=1e-5)
    # KL is scaled by T^2 in the total
    expected = 0.3 * (kl * T * T + 0.7 * cos + 0.2 * mse) + 0.7 * ce
    assert p.total.item() == pytest.approx(expected, rel=1e-5)
    assert set(p.as_floats()) == {"total", "kl", "cos", "mse", "ce"}


def test_alpha_zero_is_pure_cross_entropy():
    x = _inputs()
    p = DistillLoss(temperature=3.0, alpha=0.0, cosine_weight=1.0, mse_weight=1.0, label_smoothing=0.0)(**x)
    assert p.total.item() == p.ce.item()
    assert p.total.item() == pytest.approx(F.cross_entropy(x["student_logits"], x["labels"]).item())
    # the teacher does not matter at all
    x2 = dict(x, teacher_logits=x["teacher_logits"] * 5, teacher_pooled=-x["teacher_pooled"])
    p2 = DistillLoss(temperature=3.0, alpha=0.0, cosine_weight=1.0, mse_weight=1.0)(**x2)
    assert p2.total.item() == p.total.item()


def test_alpha_one_has_no_cross_entropy():
    x = _inputs()
    loss = DistillLoss(temperature=2.0, alpha=1.0, cosine_weight=0.5, mse_weight=0.25)
    p = loss(**x)
    assert p.total.item() == pytest.approx(p.kl.item() * 4 + 0.5 * p.cos.item() + 0.25 * p.mse.item(), rel=1e-6)
    other_labels = loss(**dict(x, labels=torch.tensor([1, 1])))
    assert other_labels.total.item() == p.total.item()
    assert other_labels.ce.item() != p.ce.item()


def test_zero_weights_disable_cosine_and_mse():
    x = _inputs()
    p = DistillLoss(temperature=2.0, alpha=1.0, cosine_weight=0.0, mse_weight=0.0)(**x)
    assert p.total.item() == pytest.approx(p.kl.item() * 4, rel=1e-6)
    assert p.cos.item() > 0 and p.mse.item() > 0  # still reported


def test_mean_pool_ignores_padding():
    hidden = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    pooled = mean_pool(hidden, mask)
    assert torch.allclose(pooled[0], hidden[0, :2].mean(0))
    assert torch.allclose(pooled[1], hidden[1].mean(0))
    garbage = hidden.clone()
    garbage[0, 2:] = 1e6
    assert torch.equal(mean_pool(garbage, mask), pooled)


def test_projection_only_when_widths_differ():
    assert DistillLoss(student_hidden=8, teacher_hidden=8).projection is None
    assert DistillLoss().projection is None
    loss = DistillLoss(student_hidden=4, teacher_hidden=6, alpha=1.0, cosine_weight=1.0)
    assert isinstance(loss.projection, torch.nn.Linear)
    assert (loss.projection.in_features, loss.projection.out_features) == (4, 6)
    x = _inputs(width_s=4, width_t=6)
    p = loss(**x)
    expected_cos = _hand_cos(loss.projection(x["student_pooled"]), x["teacher_pooled"])
    assert p.cos.item() == pytest.approx(expected_cos, rel=1e-5)
    p.total.backward()
    assert loss.projection.weight.grad is not None and loss.projection.weight.grad.abs().sum() > 0


def _tiny_models():
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = dict(vocab_size=50, num_attention_heads=2, max_position_embeddings=32, num_labels=3)
    teacher = BertForSequenceClassification(BertConfig(hidden_size=16, num_hidden_layers=2, intermediate_size=32, **cfg))
    student = BertForSequenceClassification(BertConfig(hidden_size=8, num_hidden_layers=1, intermediate_size=16, **cfg))
    return teacher, student


def test_gradients_reach_the_student_but_never_the_teacher():
    from ntmm_engine.distill.teacher_cache import LiveTeacher

    teacher, student = _tiny_models()
    loss = DistillLoss(temperature=2.0, alpha=0.5, cosine_weight=1.0, mse_weight=1.0, student_hidden=8, teacher_hidden=16)
    live = LiveTeacher(teacher, tokenizer=_FakeTokenizer())
    inputs = {"input_ids": torch.tensor([[2, 5, 7, 3, 0], [2, 9, 3, 0, 0]]),
              "attention_mask": torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]])}
    student.train()
    out = student(**inputs, output_hidden_states=True)
    t_logits, t_pooled = live(torch.tensor([0, 1]), inputs)
    p = loss(out.logits, mean_pool(out.hidden_states[-1], inputs["attention_mask"]), t_logits, t_pooled,
             torch.tensor([0, 2]))
    p.total.backward()
    assert all(q.grad is not None for q in student.parameters())
    assert student.classifier.weight.grad.abs().sum() > 0
    assert student.bert.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    assert all(q.grad is None and not q.requires_grad for q in teacher.parameters())
    assert not teacher.training


def test_teacher_tensors_get_no_gradient_even_if_they_require_it():
    x = _inputs()
    x["teacher_logits"].requires_grad_(True)
    x["teacher_pooled"].requires_grad_(True)
    DistillLoss(temperature=2.0, alpha=0.5, cosine_weight=1.0, mse_weight=1.0)(**x).total.backward()
    assert x["student_logits"].grad is not None and x["student_pooled"].grad is not None
    assert x["teacher_logits"].grad is None and x["teacher_pooled"].grad is None


class _FakeTokenizer:
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
