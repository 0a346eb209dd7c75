"""How long the teacher will train on this machine, measured before it starts.

The plan (:mod:`.plan`) says how many optimizer steps; this times a few real
ones (the base model, a batch of the project's own texts at their lengths,
AdamW) and multiplies. It costs a model load and three steps, a few seconds
on a laptop CPU, and is what the Teacher page and ``ntmm data`` show as
"≈ M minutes on this machine".
"""

from __future__ import annotations

import math
import random
import time

from ..core.config import ProjectConfig
from ..core.models import load_classifier, load_tokenizer, resolve_model_source
from ..data.augment import augment_split
from ..data.prepare import prepare_data
from .plan import TrainingPlan, plan_training, world_size
from .recipe import choose_device

TIMED_STEPS = 2
EVAL_COST = 1 / 3  # a forward pass costs about a third of a training step (no backward, no optimizer)


def teacher_plan(config: ProjectConfig, *, measure: bool = True) -> TrainingPlan:
    """The teacher's training plan for the project's data; with ``measure``, timed on this machine."""
    prepared = prepare_data(config.data, seed=config.seed, base_dir=config.base_dir)
    if config.data.augment_copies > 0:
        prepared = augment_split(prepared, config.data, config.seed)
    plan = plan_training(config.teacher, len(prepared.splits["train"]), devices=world_size())
    if measure:
        texts = list(prepared.splits["train"]["text"])
        seconds = time_training_step(config, texts, plan.gradient_accumulation_steps, len(prepared.label_names))
        evals = plan.evaluations * math.ceil(len(prepared.splits["validation"]) / config.teacher.batch_size)
        plan.seconds_per_step = seconds
        plan.seconds = seconds * plan.max_steps + seconds / plan.gradient_accumulation_steps * EVAL_COST * evals
    return plan


def time_training_step(config: ProjectConfig, texts: list[str], accumulation: int, n_labels: int = 2) -> float:
    """Seconds per optimizer step of the teacher's base model on a sample of ``texts`` (median of 2 after a warm-up)."""
    import torch

    t = config.teacher
    device = choose_device(t)
    source = resolve_model_source(t.base_model, config.base_dir)
    tokenizer = load_tokenizer(source, trust_remote_code=t.trust_remote_code)
    model = load_classifier(source, id2label={i: str(i) for i in range(n_labels)},  # a new head, as training makes
                            trust_remote_code=t.trust_remote_code).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=t.learning_rate)
    rng = random.Random(config.seed)
    times = []
    for k in range(1 + TIMED_STEPS):
        started = time.perf_counter()
        for _ in range(accumulation):
            batch = [texts[rng.randrange(len(texts))] for _ in range(t.batch_size)]
            enc = tokenizer(batch, truncation=True, max_length=config.data.max_length, padding=True, return_tensors="pt")
            out = model(**{key: v.to(device) for key, v in enc.items()}, labels=torch.zeros(len(batch), dtype=torch.long,
                                                                                           device=device))
            out.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if k:  # the first step warms up kernels and allocators
            times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]
