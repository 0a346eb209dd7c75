"""Explanations: the word whose removal flips the label ranks at the top; attributions add up; every back end."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from testdata import make_rows

from ntmm_engine.classical.model import ClassicalModel
from ntmm_engine.core.errors import DataError
from ntmm_engine.inference.explain import explain
from ntmm_engine.inference.predictors import TorchPredictor, load_predictor

LABELS = ["cardio", "gastro", "neuro"]
VOTES = {"heart": (0, 4.0), "nausea": (1, 3.0), "seizure": (2, 2.5)}  # word -> (class, logit it adds)
TEXT = "Patient with heart pain, mild nausea and no seizure today."


def _flipping_words(predictor, text: str) -> set[str]:
    """Words whose removal changes the predicted label (brute force)."""
    import re

    label = predictor.predict([text])[0].label
    out = set()
    for m in re.finditer(r"\w+", text):
        if predictor.predict([text[:m.start()] + text[m.end():]])[0].label != label:
            out.add(m.group(0))
    return out


@pytest.fixture(scope="module")
def toy(tiny_tokenizer_dir):
    """A bag-of-word-pieces model with known votes: heart -> cardio 4, nausea -> gastro 3, seizure -> neuro 2.5.

    On TEXT it says cardio (4 against 3): removing "heart" flips it to gastro; no other word does.
    """
    import torch
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)

    class Votes(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(tok.vocab_size, len(LABELS))
            torch.nn.init.zeros_(self.emb.weight)
            with torch.no_grad():
                for word, (cls, vote) in VOTES.items():
                    pieces = tok(word, add_special_tokens=False)["input_ids"]
                    self.emb.weight[pieces, cls] = vote / len(pieces)  # split over its word pieces

        def get_input_embeddings(self):
            return self.emb

        def forward(self, input_ids, attention_mask=None, token_type_ids=None):
            mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
            return SimpleNamespace(logits=(self.emb(input_ids) * mask[..., None]).sum(dim=1))

    model = Votes()
    return TorchPredictor(".", tok, LABELS, 64, {"temperature": 1.5}, model, kind="pytorch", parameters=0)


@pytest.mark.parametrize("method", ["integrated_gradients", "occlusion"])
def test_the_word_whose_removal_flips_the_label_ranks_at_the_top(toy, method):
    assert _flipping_words(toy, TEXT) == {"heart"}
    e = explain(toy, TEXT, method=method, classes=3)
    assert e.label == "cardio" and e.classes == ["cardio", "gastro", "neuro"]
    assert e.top(k=1)[0][0] == "heart"
    assert e.top("gastro", k=1)[0][0] == "nausea" and e.top("neuro", k=1)[0][0] == "seizure"
    scores = dict(zip((w.text for w in e.words), e.scores_for("cardio")))
    assert scores["nausea"] < 0 < scores["heart"]  # nausea pulls away from cardio (towards gastro)
    assert abs(scores["today"]) < 1e-6 and abs(scores["Patient"]) < 1e-6  # words without a vote
    # every word of the text, at its place: highlights line up with the text
    assert all(TEXT[w.start:w.end] == w.text for w in e.words) and [w.text for w in e.words][:3] == ["Patient", "with", "heart"]
    assert e.summary().startswith("heart (+") and method.split("_")[0] in e.method and e.seconds > 0


def test_integrated_gradients_add_up_to_the_change_of_log_probability(toy):
    e = explain(toy, TEXT, method="integrated_gradients", classes=3)
    assert "integrated gradients" in e.method  # it converged: no fall-back to occlusion
    for total, expected in zip(e.total, e.expected_total):
        assert total == pytest.approx(expected, abs=1e-3)
    # the words carry all of it here (no special token votes)
    for j, c in enumerate(e.classes):
        assert sum(e.scores_for(c)) == pytest.approx(e.expected_total[j], abs=1e-3)


def test_gradients_explain_the_predicted_class_first_and_the_others_on_request(toy):
    first = explain(toy, TEXT)  # one pass per class: by default only the predicted one
    assert first.classes == ["cardio"] and first.top(k=1)[0][0] == "heart"
    more = explain(toy, TEXT, classes=["gastro", "neuro"])
    assert more.label == "cardio" and more.classes == ["gastro", "neuro"] and more.top(k=1)[0][0] == "nausea"
    both = first.merged(more)
    full = explain(toy, TEXT, classes=3)
    assert both.classes == full.classes and both.probabilities == pytest.approx(full.probabilities)
    for a, b in zip(both.words, full.words):
        assert (a.start, a.end) == (b.start, b.end) and a.scores == pytest.approx(b.scores, abs=1e-6)
    assert len(explain(toy, TEXT, method="occlusion").classes) == 3  # occlusion scores every class at once
    with pytest.raises(ValueError, match="unknown class"):
        explain(toy, TEXT, classes=["ortho"])


def test_classical_attributions_are_its_coefficients_and_add_up():
    rows = make_rows(20)
    model = ClassicalModel.fit([r["text"] for r in rows], [LABELS.index(r["label"]) for r in rows], LABELS)
    from ntmm_engine.inference.predictors import ClassicalPredictor

    pred = ClassicalPredictor(".", {"temperature": 1.3}, model)
    text = "patient reports severe chest pain and mild nausea today"
    e = explain(pred, text)
    assert "coefficients" in e.method and e.label == pred.predict([text])[0].label
    for total, expected in zip(e.total, e.expected_total):
        assert total == pytest.approx(expected, abs=1e-9)  # every n-gram's weight is given to its words
    flips = _flipping_words(pred, text)
    assert flips and e.top(k=1)[0][0] in flips
    single = explain(pred, "a")  # no feature at all: nothing pushed it
    assert single.summary() == "(no word pushed it)"


def test_onnx_and_torch_int8_are_explained_by_occlusion_and_blank_text_is_refused(tmp_path, tiny_bert_dir, toy):
    from ntmm_engine.export.onnx import export_onnx

    hf = tmp_path / "student"
    shutil.copytree(tiny_bert_dir, hf)
    (hf / "ntmm.json").write_text(json.dumps({"max_length": 16, "label_names": LABELS, "temperature": 1.2}))
    onnx = tmp_path / "onnx"
    export_onnx(hf, onnx)
    (onnx / "ntmm.json").write_text(json.dumps({"max_length": 16, "label_names": LABELS, "variant": "onnx"}))
    long_text = " ".join(["heart pain"] * 30)  # past 16 tokens: the rest was never seen by the model
    for folder, variant in ((onnx, "onnx"), (hf, "torch_int8")):
        if variant == "torch_int8":
            (hf / "ntmm.json").write_text(json.dumps({"max_length": 16, "label_names": LABELS, "variant": "torch_int8"}))
        pred = load_predictor(folder)
        e = explain(pred, long_text)
        assert "occlusion" in e.method and e.truncated and 0 < len(e.words) < 60
        assert e.label == pred.predict([long_text])[0].label
        assert e.probabilities[0] == pytest.approx(pred.predict([long_text])[0].confidence, abs=1e-5)
    with pytest.raises(DataError, match="No text to explain"):
        explain(toy, "   ")


def test_predict_rows_and_the_cli_add_explanations(tmp_path, toy, capsys):
    from ntmm_engine.inference.batch import output_extras, predict_rows

    rows = [{"text": TEXT}, {"text": ""}]
    (batch, preds), = list(predict_rows(toy, rows, "text", explain=True))
    assert preds[1] is None and preds[0].explanation.top(k=1)[0][0] == "heart"
    assert preds[0].extra["explanation"].startswith("heart (+")
    toy.min_confidence = 0.9
    try:
        assert output_extras(toy, explain=True) == ["uncertain", "explanation"]
    finally:
        toy.min_confidence = 0.0
    assert output_extras(toy) == []
    assert np.isfinite(preds[0].confidence)
