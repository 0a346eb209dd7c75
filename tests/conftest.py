"""Shared fixtures: tiny random BERT classifiers and tiny datasets, all offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from testdata import make_rows, write_csv  # noqa: E402,F401  (re-exported for fixtures)


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> Path:
    """The bundled MiniLM tokenizer, saved alone (no weights)."""
    from transformers import AutoTokenizer

    from ntmm_engine.core.models import bundled_minilm_path

    folder = tmp_path_factory.mktemp("tok")
    AutoTokenizer.from_pretrained(bundled_minilm_path()).save_pretrained(folder)
    return folder


def _tiny_bert(folder: Path, tokenizer_dir: Path, layers: int = 2, hidden: int = 32, num_labels: int = 3, seed: int = 0) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                     intermediate_size=hidden * 2, max_position_embeddings=512, num_labels=num_labels)
    model = BertForSequenceClassification(cfg)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory, tiny_tokenizer_dir) -> Path:
    """A 2-layer, 32-wide random BERT with the MiniLM tokenizer (a 'pretrained' base)."""
    return _tiny_bert(tmp_path_factory.mktemp("tiny_bert"), tiny_tokenizer_dir)


@pytest.fixture(scope="session")
def tiny_bert_factory(tmp_path_factory, tiny_tokenizer_dir):
    def make(**kw) -> Path:
        return _tiny_bert(tmp_path_factory.mktemp("tiny_bert_custom"), tiny_tokenizer_dir, **kw)
    return make


@pytest.fixture
def easy_csv(tmp_path) -> Path:
    return write_csv(tmp_path / "easy.csv", make_rows(20))


@pytest.fixture
def tiny_config(tmp_path, easy_csv, tiny_bert_dir):
    """A project config for a fast tiny teacher run (CPU, fp32)."""
    from ntmm_engine.core.config import ProjectConfig

    cfg = ProjectConfig(name="tiny", run_dir=str(tmp_path / "runs"))
    cfg.base_dir = str(tmp_path)
    cfg.data.train = str(easy_csv)
    cfg.data.max_length = 32
    t = cfg.teacher
    t.base_model = str(tiny_bert_dir)
    t.epochs = 3
    t.learning_rate = 5e-3
    t.batch_size = 8
    t.gradient_accumulation_steps = 1
    t.eval_batch_size = 32
    t.logging_steps = 1
    t.device = "cpu"
    t.label_smoothing = 0.0
    t.early_stopping_patience = 0  # tiny runs: train every planned step (tests of early stopping set it)
    d = cfg.distill
    d.epochs = 2
    d.learning_rate = 5e-3
    d.batch_size = 8
    d.gradient_accumulation_steps = 1
    d.logging_steps = 1
    d.device = "cpu"
    d.num_layers = 1
    d.early_stopping_patience = 0
    cfg.benchmark.num_samples = 5
    cfg.benchmark.warmup = 1
    cfg.benchmark.rounds = 2
    cfg.benchmark.time_budget_s = 0.0  # tests run on busy machines: never repeat rounds to steady the timings
    return cfg
