"""Building the student: shrink the teacher, load another checkpoint, or a fresh small BERT.

Shrinking copies the teacher's embeddings, a subset of its encoder layers,
its pooler and its classification head into a model of the same class with
fewer layers (as DistilBERT was initialised from BERT). The layer list is
found generically (``<base>.encoder.layer`` for BERT, RoBERTa, ELECTRA...;
``<base>.transformer.layer`` for DistilBERT), so any BERT-family encoder works.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..core.config import DistillConfig
from ..core.errors import ConfigError, ModelError
from ..core.models import load_classifier, load_tokenizer, resolve_model_source

# Where BERT-family models keep their ModuleList of encoder layers (relative to ``model.base_model``).
LAYER_LIST_PATHS = ("encoder.layer", "transformer.layer")


@dataclass
class Student:
    """A freshly built (untrained) student and how it was made."""

    model: Any
    tokenizer: Any
    kind: str  # shrink | checkpoint | fresh
    layer_indices: list[int] | None = None
    source: str | None = None
    same_tokenizer: bool = True  # False: the student tokenizes differently from the teacher
    details: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description (for ntmm.json and result.json)."""
        cfg = self.model.config
        return {"kind": self.kind, "layer_indices": self.layer_indices, "source": self.source,
                "same_tokenizer": self.same_tokenizer, "model_type": cfg.model_type,
                "num_layers": int(cfg.num_hidden_layers), "hidden_size": hidden_size(self.model), **self.details}


# ------------------------------------------------------------- layer helpers
def find_layer_list(model) -> tuple[str, Any]:
    """The dotted name and the ``ModuleList`` of a BERT-family model's encoder layers."""
    from torch import nn

    base = getattr(model, "base_model", model)
    for path in LAYER_LIST_PATHS:
        obj = base
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList) and len(obj) > 0:
            name = next(n for n, m in model.named_modules() if m is obj)
            return name, obj
    raise ModelError(
        f"Cannot shrink a {type(model).__name__} ({getattr(model.config, 'model_type', '?')}): NTMM shrinks "
        "BERT-family encoders (BERT, RoBERTa, DistilBERT, ELECTRA, MiniLM...) by keeping some of their "
        "encoder layers, and this model has no encoder layer list.",
        hint="set distill.student to 'checkpoint' (another pretrained model) or 'fresh' (a new small BERT)")


def spread_layers(num_teacher_layers: int, num_layers: int) -> list[int]:
    """``num_layers`` indices spread evenly over the teacher, first and last included (2 of 6 -> [0, 5])."""
    import numpy as np

    k = min(num_layers, num_teacher_layers)
    return sorted({int(round(x)) for x in np.linspace(0, num_teacher_layers - 1, k)})


def choose_layer_indices(num_teacher_layers: int, num_layers: int, layer_indices: Sequence[int] = ()) -> list[int]:
    """Validate ``layer_indices`` or spread ``num_layers``; errors name the config field."""
    if layer_indices:
        bad = [i for i in layer_indices if not 0 <= int(i) < num_teacher_layers]
        if bad:
            raise ConfigError("distill.layer_indices", f"{bad} out of range: the teacher has {num_teacher_layers} "
                              f"layers, numbered 0..{num_teacher_layers - 1}")
        if len(set(layer_indices)) != len(layer_indices):
            raise ConfigError("distill.layer_indices", f"{list(layer_indices)} repeats a layer")
        return sorted(int(i) for i in layer_indices)
    if num_layers > num_teacher_layers:
        raise ConfigError("distill.num_layers", f"{num_layers} is more than the teacher's {num_teacher_layers} layers",
                          hint=f"choose at most {num_teacher_layers}")
    return spread_layers(num_teacher_layers, num_layers)


def hidden_size(model) -> int:
    """Width of the last hidden state (what the cosine loss compares)."""
    return int(model.config.hidden_size)


# ---------------------------------------------------------------- builders
def shrink_teacher(teacher, layer_indices: Sequence[int]):
    """Same class and width as ``teacher``, keeping only ``layer_indices`` (copied weights)."""
    prefix, layers = find_layer_list(teacher)
    indices = [int(i) for i in layer_indices]
    if not indices or any(not 0 <= i < len(layers) for i in indices):
        raise ConfigError("distill.layer_indices", f"{indices} invalid for a teacher with {len(layers)} layers")
    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = len(indices)  # DistilBERT maps this onto n_layers
    student = type(teacher)(config)
    # Build the student's state dict from the teacher's: layer indices[i] -> layer i,
    # everything else (embeddings, pooler, head) unchanged. A strict load then
    # proves every student weight came from the teacher.
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.(.*)$")
    keep = {old: new for new, old in enumerate(indices)}
    state = {}
    for key, value in teacher.state_dict().items():
        m = pattern.match(key)
        if m is None:
            state[key] = value.detach().clone()
        elif int(m.group(1)) in keep:
            state[f"{prefix}.{keep[int(m.group(1))]}.{m.group(2)}"] = value.detach().clone()
    student.load_state_dict(state, strict=True)
    student.to(next(teacher.parameters()).device)
    return student


def fresh_student(d: DistillConfig, tokenizer, id2label: dict[int, str], max_length: int):
    """A randomly initialised small BERT that reads the teacher's tokenizer."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=max(len(tokenizer), int(tokenizer.vocab_size)),
        hidden_size=d.fresh_hidden_size, num_hidden_layers=d.fresh_layers, num_attention_heads=d.fresh_heads,
        intermediate_size=d.fresh_intermediate_size, max_position_embeddings=max(512, max_length + 2),
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
        num_labels=len(id2label), id2label=dict(id2label), label2id={v: k for k, v in id2label.items()})
    return BertForSequenceClassification(config)


def same_tokenization(a, b, texts: Sequence[str]) -> bool:
    """True when two tokenizers turn ``texts`` into the same ids (vocab and rules)."""
    if a is b:
        return True
    if a.get_vocab() != b.get_vocab():
        return False
    sample = list(texts[:64]) or ["probe text"]
    return a(sample)["input_ids"] == b(sample)["input_ids"]


def build_student(d: DistillConfig, teacher, teacher_tokenizer, id2label: dict[int, str], *,
                  base_dir: str | Path = ".", max_length: int = 256, probe_texts: Sequence[str] = ()) -> Student:
    """Build the untrained student the config asks for (set the seed first for reproducible heads)."""
    if d.student == "shrink":
        n = len(find_layer_list(teacher)[1])
        indices = choose_layer_indices(n, d.num_layers, d.layer_indices)
        return Student(shrink_teacher(teacher, indices), teacher_tokenizer, "shrink", layer_indices=indices,
                       details={"teacher_layers": n})
    if d.student == "checkpoint":
        source = resolve_model_source(d.student_checkpoint, base_dir)
        tokenizer = load_tokenizer(source, trust_remote_code=d.trust_remote_code)
        model = load_classifier(source, id2label=id2label, trust_remote_code=d.trust_remote_code)
        return Student(model, tokenizer, "checkpoint", source=d.student_checkpoint,
                       same_tokenizer=same_tokenization(tokenizer, teacher_tokenizer, probe_texts))
    if d.student == "fresh":
        return Student(fresh_student(d, teacher_tokenizer, id2label, max_length), teacher_tokenizer, "fresh")
    raise ConfigError("distill.student", f"{d.student!r} is not one of shrink, checkpoint, fresh")
