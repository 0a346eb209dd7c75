"""Building students: shrinking BERT-family teachers, fresh students, layer choice, clear errors."""

from __future__ import annotations

import pytest
import torch

from ntmm_engine.core.config import DistillConfig
from ntmm_engine.core.errors import ConfigError, ModelError
from ntmm_engine.distill.students import build_student, choose_layer_indices, find_layer_list, fresh_student, shrink_teacher, spread_layers


def _batch():
    return {"input_ids": torch.tensor([[2, 15, 27, 9, 3, 0], [2, 40, 3, 0, 0, 0]]),
            "attention_mask": torch.tensor([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]])}


def _logits(model):
    model.eval()
    with torch.no_grad():
        return model(**_batch()).logits


def _family(name: str, layers: int = 4):
    """Tiny random BERT-family classifiers, built in memory."""
    import transformers as tf

    torch.manual_seed(0)
    common = dict(vocab_size=64, num_labels=3, max_position_embeddings=64)
    if name == "bert":
        return tf.BertForSequenceClassification(tf.BertConfig(hidden_size=16, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=32, **common))
    if name == "roberta":
        return tf.RobertaForSequenceClassification(tf.RobertaConfig(hidden_size=16, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=32, pad_token_id=1, **common))
    if name == "distilbert":
        return tf.DistilBertForSequenceClassification(tf.DistilBertConfig(dim=16, n_layers=layers, n_heads=2, hidden_dim=32, **common))
    if name == "electra":
        return tf.ElectraForSequenceClassification(tf.ElectraConfig(hidden_size=16, embedding_size=8, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=32, **common))
    raise ValueError(name)


def test_default_layer_spread():
    assert spread_layers(6, 2) == [0, 5]
    assert spread_layers(6, 3) == [0, 2, 5]
    assert spread_layers(12, 4) == [0, 4, 7, 11]
    assert spread_layers(6, 6) == [0, 1, 2, 3, 4, 5]
    assert spread_layers(6, 1) == [0]
    assert choose_layer_indices(6, 2) == [0, 5]
    assert choose_layer_indices(6, 2, [3, 1]) == [1, 3]  # exact indices win over num_layers


def test_layer_choice_errors_name_the_field():
    with pytest.raises(ConfigError, match="distill.layer_indices.*out of range"):
        choose_layer_indices(4, 2, [0, 4])
    with pytest.raises(ConfigError, match="distill.layer_indices.*repeats"):
        choose_layer_indices(4, 2, [1, 1])
    with pytest.raises(ConfigError, match="distill.num_layers.*more than the teacher's 4 layers"):
        choose_layer_indices(4, 5)


@pytest.mark.parametrize("family", ["bert", "roberta", "distilbert", "electra"])
def test_shrink_with_all_layers_reproduces_teacher_logits_exactly(family):
    teacher = _family(family, layers=3)
    student = shrink_teacher(teacher, [0, 1, 2])
    assert type(student) is type(teacher)
    assert torch.equal(_logits(student), _logits(teacher))


@pytest.mark.parametrize("family", ["bert", "distilbert"])
def test_shrink_copies_chosen_layers_embeddings_and_head(family):
    teacher = _family(family, layers=4)
    student = shrink_teacher(teacher, [1, 3])
    t_name, t_layers = find_layer_list(teacher)
    s_name, s_layers = find_layer_list(student)
    assert t_name == s_name and len(s_layers) == 2 and student.config.num_hidden_layers == 2
    for s_i, t_i in [(0, 1), (1, 3)]:
        for (ks, vs), (kt, vt) in zip(s_layers[s_i].state_dict().items(), t_layers[t_i].state_dict().items()):
            assert ks == kt and torch.equal(vs, vt)
    s_state, t_state = student.state_dict(), teacher.state_dict()
    for key, value in s_state.items():
        if not key.startswith(s_name + "."):  # embeddings, pooler, head
            assert torch.equal(value, t_state[key]), key
    # the copy is independent of the teacher
    next(iter(s_layers[0].parameters())).data.add_(1.0)
    assert not torch.equal(next(iter(s_layers[0].parameters())), next(iter(t_layers[1].parameters())))
    assert _logits(student).shape == (2, 3)


def test_shrunk_student_saves_and_loads(tmp_path, tiny_bert_factory):
    from ntmm_engine.core.models import load_classifier

    teacher = load_classifier(str(tiny_bert_factory(layers=3)))
    student = shrink_teacher(teacher, [0, 2])
    student.save_pretrained(tmp_path / "s", safe_serialization=True)
    loaded = load_classifier(str(tmp_path / "s"))
    assert loaded.config.num_hidden_layers == 2
    assert torch.equal(_logits(loaded), _logits(student))


def test_non_bert_family_model_gives_clear_error():
    from transformers import GPT2Config, GPT2ForSequenceClassification

    gpt2 = GPT2ForSequenceClassification(GPT2Config(vocab_size=64, n_embd=16, n_layer=2, n_head=2, num_labels=3))
    with pytest.raises(ModelError, match=r"Cannot shrink a GPT2ForSequenceClassification.*BERT-family") as info:
        shrink_teacher(gpt2, [0])
    assert "checkpoint" in info.value.hint and "fresh" in info.value.hint
    with pytest.raises(ModelError, match="BERT-family"):
        build_student(DistillConfig(num_layers=1), gpt2, None, {0: "a", 1: "b", 2: "c"})


def test_build_student_shrink_uses_config(tiny_bert_factory):
    from ntmm_engine.core.models import load_classifier, load_tokenizer

    folder = tiny_bert_factory(layers=3)
    teacher, tok = load_classifier(str(folder)), load_tokenizer(str(folder))
    s = build_student(DistillConfig(num_layers=2), teacher, tok, {0: "a", 1: "b", 2: "c"})
    assert (s.kind, s.layer_indices, s.same_tokenizer, s.tokenizer) == ("shrink", [0, 2], True, tok)
    assert s.describe()["num_layers"] == 2 and s.describe()["teacher_layers"] == 3
    s = build_student(DistillConfig(layer_indices=[1]), teacher, tok, {0: "a", 1: "b", 2: "c"})
    assert s.layer_indices == [1] and s.model.config.num_hidden_layers == 1


def test_fresh_student_reads_the_teacher_tokenizer(tiny_tokenizer_dir):
    from ntmm_engine.core.models import load_tokenizer

    tok = load_tokenizer(str(tiny_tokenizer_dir))
    d = DistillConfig(student="fresh", fresh_layers=1, fresh_hidden_size=16, fresh_heads=2, fresh_intermediate_size=32)
    model = fresh_student(d, tok, {0: "a", 1: "b"}, max_length=32)
    assert (model.config.hidden_size, model.config.num_hidden_layers, model.config.num_labels) == (16, 1, 2)
    assert model.config.vocab_size >= len(tok)
    assert model.config.id2label == {0: "a", 1: "b"}
    ids = tok(["chest pain and headache"], return_tensors="pt")
    assert model(**ids).logits.shape == (1, 2)
    s = build_student(d, None, tok, {0: "a", 1: "b"}, max_length=32)
    assert s.kind == "fresh" and s.same_tokenizer and s.tokenizer is tok
