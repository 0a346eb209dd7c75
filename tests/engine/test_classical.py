"""The classical baseline: trains in seconds, saved without pickle, reloads to the same predictions, a model like the others."""

from __future__ import annotations

import json

import numpy as np

from ntmm_engine.api import RunState, load_predictor
from ntmm_engine.classical.job import run_classical
from ntmm_engine.classical.model import ClassicalModel

TEXTS = ["crushing chest pain and high blood pressure", "seizure after a severe headache", "nausea and liver pain",
         "heart murmur on exam", "stroke with left arm weakness", "colon pain and bowel changes"]


def test_stage_trains_saves_and_reloads_identically_without_pickle(tiny_config):
    result = run_classical(tiny_config)
    folder = tiny_config.run_path / "classical" / "model"
    assert result.status == "completed" and result.model_dir == str(folder)
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["classical.json", "ntmm.json", "weights.safetensors"]
    assert not [p for p in folder.iterdir() if p.suffix in (".pkl", ".pickle", ".joblib", ".bin", ".pt")]
    json.loads((folder / "classical.json").read_text())  # plain JSON, no code
    # in memory vs reloaded from disk: the very same probabilities
    from ntmm_engine.classical.job import fit_classical
    from ntmm_engine.data.prepare import prepare_data
    model, _ = fit_classical(prepare_data(tiny_config.data, seed=tiny_config.seed, base_dir=tiny_config.base_dir))
    again = ClassicalModel.load(folder)
    assert np.array_equal(model.probabilities(TEXTS), again.probabilities(TEXTS))
    # scores with intervals and per-example predictions for paired comparisons
    test = result.metrics["test"]
    assert test["macro_f1_ci"][0] <= test["macro_f1"] <= test["macro_f1_ci"][1]
    assert len(result.predictions["test"]) == test["examples"]
    assert set(result.top_terms) == {"cardio", "gastro", "neuro"}


def test_it_predicts_and_appears_as_a_variant(tiny_config):
    run_classical(tiny_config)
    state = RunState(tiny_config)
    assert "classical_tfidf" in state.models() and state.result("classical").status == "completed"
    p = load_predictor(state.models()["classical_tfidf"])
    assert p.kind == "classical" and p.label_names == ["cardio", "gastro", "neuro"]
    preds = p.predict(TEXTS[:3])
    assert [x.label for x in preds] == ["cardio", "neuro", "gastro"]
    assert all(abs(sum(x.probabilities.values()) - 1) < 1e-9 for x in preds)
    assert p.parameter_count() > 0 and p.weights_bytes() > 0
