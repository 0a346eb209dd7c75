"""Prediction: one Predictor over HF, torch_int8 and ONNX artifacts; clear errors for bad ones."""

from __future__ import annotations

import argparse
import csv
import json
import shutil

import numpy as np
import pytest

from ntmm_engine.cli.predict import predict_cli
from ntmm_engine.core.errors import DataError, ModelError, NTMMError
from ntmm_engine.inference.predictors import Prediction, label_order, load_predictor
from ntmm_engine.inference.textfiles import read_texts_file, texts_file_columns

LABELS = ["cardio", "gastro", "neuro"]
TEXTS = ["patient reports chest pain and high blood pressure", "severe headache with seizure today",
         "nausea and liver pain after meals", "mild stomach ache", "history of stroke",
         "cardiac arrest noted", "bowel obstruction suspected in the colon", "nerve pain in the left arm"]


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory, tiny_bert_dir):
    folder = tmp_path_factory.mktemp("pred") / "hf"
    shutil.copytree(tiny_bert_dir, folder)
    (folder / "ntmm.json").write_text(json.dumps({"role": "student", "max_length": 24, "label_names": LABELS}))
    return folder


@pytest.fixture(scope="module")
def onnx_dir(hf_dir):
    from ntmm_engine.export.onnx import export_onnx

    folder = hf_dir.parent / "onnx"
    export_onnx(hf_dir, folder, opset=17)
    (folder / "ntmm.json").write_text(json.dumps({"role": "student", "variant": "onnx", "max_length": 24, "label_names": LABELS}))
    return folder


def test_hf_and_onnx_fp32_predict_the_same(hf_dir, onnx_dir):
    hf, ox = load_predictor(hf_dir), load_predictor(onnx_dir)
    assert (hf.kind, ox.kind) == ("pytorch", "onnx")
    assert hf.label_names == ox.label_names == LABELS and hf.max_length == ox.max_length == 24
    a, b = hf.predict(TEXTS, batch_size=3), ox.predict(TEXTS, batch_size=5)
    assert [p.label for p in a] == [p.label for p in b]
    assert isinstance(a[0], Prediction) and set(a[0].probabilities) == set(LABELS)
    for p, q in zip(a, b):
        assert abs(sum(p.probabilities.values()) - 1) < 1e-6
        assert p.label == max(p.probabilities, key=p.probabilities.get) and LABELS[p.label_id] == p.label
        assert max(abs(p.probabilities[k] - q.probabilities[k]) for k in LABELS) < 1e-5
    # the .onnx file itself loads too, and the parameter count matches PyTorch's
    f = load_predictor(onnx_dir / "model.onnx")
    assert f.kind == "onnx" and f.label_names == LABELS
    assert abs(f.parameter_count() - hf.parameter_count()) / hf.parameter_count() < 0.01


def test_batching_progress_and_truncation(hf_dir):
    p = load_predictor(hf_dir)
    seen = []
    one = p.logits(TEXTS, batch_size=1, on_progress=lambda d, t: seen.append((d, t)))
    many = p.logits(TEXTS, batch_size=64)
    np.testing.assert_allclose(one, many, atol=1e-5)  # padding does not change the logits
    assert seen[-1] == (len(TEXTS), len(TEXTS)) and len(seen) == len(TEXTS)
    assert p.encode(["word " * 200])["input_ids"].shape[1] == 24  # max_length from ntmm.json


def test_torch_int8_folder_requantizes_on_load(hf_dir, tmp_path):
    folder = tmp_path / "int8"
    shutil.copytree(hf_dir, folder)
    (folder / "ntmm.json").write_text(json.dumps({"variant": "torch_int8", "max_length": 24, "label_names": LABELS}))
    p = load_predictor(folder)
    assert p.kind == "torch_int8"
    assert "DynamicQuantizedLinear" in {type(m).__name__ for m in p.model.modules()} or \
        any("quantized" in type(m).__module__ for m in p.model.modules())
    assert len(p.predict(TEXTS[:3])) == 3
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))  # nothing pickled


def test_foreign_folder_without_ntmm_json(tiny_bert_dir):
    p = load_predictor(tiny_bert_dir)
    assert p.kind == "pytorch" and p.label_names == ["LABEL_0", "LABEL_1", "LABEL_2"]
    assert p.max_length == 512  # tokenizer model_max_length, capped


def test_empty_input_is_a_clear_error(hf_dir):
    p = load_predictor(hf_dir)
    with pytest.raises(DataError, match="No texts"):
        p.predict([])
    with pytest.raises(DataError, match="blank"):
        p.predict(["", "   "])
    assert issubclass(DataError, NTMMError)


def test_bad_artifacts_give_clear_errors(tmp_path, hf_dir, onnx_dir):
    with pytest.raises(ModelError, match="not found"):
        load_predictor(tmp_path / "nope")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match="not a model folder"):
        load_predictor(tmp_path / "junk")
    with pytest.raises(ModelError, match="not an .onnx model"):
        load_predictor(tmp_path / "junk" / "notes.txt")

    bad = tmp_path / "bad_onnx"
    shutil.copytree(onnx_dir, bad)
    (bad / "model.onnx").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        load_predictor(bad)
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        load_predictor(bad / "model.onnx")

    notok = tmp_path / "no_tokenizer"
    notok.mkdir()
    for f in ("config.json", "model.safetensors", "ntmm.json"):
        shutil.copy(hf_dir / f, notok / f)
    with pytest.raises(ModelError, match="no tokenizer"):
        load_predictor(notok)

    wrong = tmp_path / "wrong_labels"
    shutil.copytree(onnx_dir, wrong)
    (wrong / "ntmm.json").write_text(json.dumps({"variant": "onnx", "label_names": ["a", "b"]}))
    with pytest.raises(ModelError, match="3 outputs but names 2 labels"):
        load_predictor(wrong)

    base = tmp_path / "encoder_only"
    shutil.copytree(hf_dir, base)
    cfg = json.loads((base / "config.json").read_text())
    cfg["architectures"] = ["BertModel"]
    (base / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="not a text classifier"):
        load_predictor(base)


def test_pickle_only_weights_refused_unless_allowed(hf_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification

    folder = tmp_path / "pickled"
    model = AutoModelForSequenceClassification.from_pretrained(hf_dir)
    model.save_pretrained(folder, safe_serialization=False)
    for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json", "ntmm.json"):
        shutil.copy(hf_dir / f, folder / f)
    assert (folder / "pytorch_model.bin").is_file() and not list(folder.glob("*.safetensors"))
    with pytest.raises(ModelError, match="pickled"):
        load_predictor(folder)
    p = load_predictor(folder, allow_pickle=True)
    np.testing.assert_allclose(p.logits(TEXTS), load_predictor(hf_dir).logits(TEXTS), atol=1e-5)


def test_label_order():
    assert label_order(LABELS, LABELS) == [0, 1, 2]
    assert label_order(["neuro", "cardio", "gastro"], LABELS) == [1, 2, 0]
    assert label_order(["LABEL_0", "LABEL_1", "LABEL_2"], LABELS) == [0, 1, 2]
    with pytest.raises(NTMMError, match="do not match"):
        label_order(["a", "b"], LABELS)


def _args(**kw):
    base = dict(texts=[], model="", file=None, column=None, sheet=None, out=None, batch_size=4, allow_pickle=False)
    base.update(kw)
    return argparse.Namespace(**base)


def test_predict_cli_files_and_outputs(hf_dir, onnx_dir, tmp_path, capsys):
    src = tmp_path / "in.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "note"])
        for i, t in enumerate(TEXTS):
            w.writerow([i, t])
        w.writerow([99, "  "])  # blank rows are skipped
    assert read_texts_file(src) == TEXTS
    out = tmp_path / "out.csv"
    assert predict_cli(_args(model=str(onnx_dir), file=str(src), out=str(out))) == 0
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [r["note"] for r in rows] == TEXTS + ["  "]  # every row, the blank one too (no prediction)
    assert list(rows[0]) == ["id", "note", "pred_label", "pred_score", "p_cardio", "p_gastro", "p_neuro"]
    assert rows[-1]["pred_label"] == "" and rows[0]["pred_label"] in LABELS
    printed = capsys.readouterr().out
    assert printed.count("\n") == len(TEXTS) and "cardio=" in printed

    jl = tmp_path / "in.jsonl"
    jl.write_text("\n".join(json.dumps({"body": t, "n": 1}) for t in TEXTS[:3]))
    txt = tmp_path / "in.txt"
    txt.write_text("\n".join(TEXTS[:2]) + "\n\n")
    assert read_texts_file(jl) == TEXTS[:3] and read_texts_file(txt) == TEXTS[:2]
    assert read_texts_file(jl, column="body") == TEXTS[:3]
    with pytest.raises(DataError, match="column 'nope' not found"):
        read_texts_file(jl, column="nope")
    # the columns a chooser offers, and the one detection picks
    assert texts_file_columns(src) == (["id", "note"], "note")
    assert texts_file_columns(jl) == (["body", "n"], "body")
    assert texts_file_columns(txt) == ([], None)
    with pytest.raises(DataError, match="not found"):
        texts_file_columns(tmp_path / "missing.csv")
    jout = tmp_path / "out.json"
    assert predict_cli(_args(model=str(hf_dir), texts=["chest pain"], file=str(txt), out=str(jout))) == 0
    data = json.loads(jout.read_text())
    assert len(data) == 3 and data[0]["text"] == "chest pain"
    assert list(data[0]) == ["text", "pred_label", "pred_score", "p_cardio", "p_gastro", "p_neuro"]
    assert abs(sum(data[0][f"p_{n}"] for n in LABELS) - 1) < 1e-6 and data[0]["pred_score"] == data[0][f"p_{data[0]['pred_label']}"]


def test_predict_cli_errors_through_main(hf_dir, tmp_path, capsys):
    from ntmm_engine.cli.main import main

    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    assert main(["predict", "--model", str(hf_dir), "--file", str(empty)]) == 1
    assert "No texts to predict" in capsys.readouterr().err
    assert main(["predict", "--model", str(tmp_path / "missing"), "some text"]) == 1
    assert "Model not found" in capsys.readouterr().err
    assert main(["predict", "--model", str(hf_dir), "x", "--out", str(tmp_path / "p.docx")]) == 1
    assert "unsupported file type" in capsys.readouterr().err


def test_prediction_reads_the_column_the_model_was_trained_on(hf_dir, tmp_path, capsys):
    """A model trained on column 'note' reads 'note' from a file to predict, even where the detector alone would
    pick a longer column; without that record, prediction uses the same detector as training."""
    from ntmm_engine.data.columns import find_text_column

    model = tmp_path / "trained_on_note"
    shutil.copytree(hf_dir, model)
    info = json.loads((model / "ntmm.json").read_text())
    (model / "ntmm.json").write_text(json.dumps({**info, "text_column": "note"}))
    rows = [{"index": i, "label": "cardio", "comment": "reviewed by the admitting team, no change to the care plan " * 2,
             "note": t} for i, t in enumerate(TEXTS[:3])]
    f = tmp_path / "notes.csv"
    with open(f, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert load_predictor(model).text_column == "note"
    # the GUI's column list and the CLI read the model's column
    cols, chosen = texts_file_columns(f, prefer="note")
    assert cols == ["index", "label", "comment", "note"] and chosen == "note"
    out = tmp_path / "pred.csv"
    args = argparse.Namespace(texts=[], model=str(model), file=str(f), column=None, out=str(out), batch_size=2,
                              allow_pickle=False)
    assert predict_cli(args) == 0
    assert [r["note"] for r in csv.DictReader(open(out, encoding="utf-8"))] == TEXTS[:3]
    # without a recorded column: the training detector decides, for files as for training data
    values = {c: [r[c] for r in rows] for c in rows[0]}
    assert texts_file_columns(f)[1] == find_text_column({c: [str(v) for v in vs] for c, vs in values.items()}) == "comment"


# ---------------------------------------------------------------- batch outputs keep the rows
def _notes_file(tmp_path, name="notes.csv", sep=","):
    rows = [{"index": f"{i:03d}", "label": LABELS[i % 3], "text": t} for i, t in enumerate(TEXTS)]
    rows.append({"index": "999", "label": "", "text": ""})  # a row without a text: kept, no prediction
    import pandas as pd

    pd.DataFrame(rows).to_csv(tmp_path / name, index=False, sep=sep)
    return tmp_path / name, rows


def test_batch_output_keeps_index_and_label_untouched_and_scores_against_label(hf_dir, tmp_path, capsys):
    from ntmm_engine.cli.main import main

    src, rows = _notes_file(tmp_path)
    out = tmp_path / "out.csv"
    capsys.readouterr()
    assert main(["predict", "--model", str(hf_dir), "--file", str(src), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    got = list(csv.DictReader(open(out, encoding="utf-8")))
    assert list(got[0]) == ["index", "label", "text", "pred_label", "pred_score", "p_cardio", "p_gastro", "p_neuro"]
    assert [r["index"] for r in got] == [r["index"] for r in rows]  # "000" stays "000"
    assert [r["label"] for r in got] == [r["label"] for r in rows]  # the gold labels, not overwritten
    assert got[-1]["pred_label"] == "" and got[-1]["p_cardio"] == ""
    preds = load_predictor(hf_dir).predict(TEXTS)
    assert [r["pred_label"] for r in got[:-1]] == [p.label for p in preds]
    for r, p in zip(got, preds):
        assert float(r["pred_score"]) == pytest.approx(p.probabilities[p.label], abs=1e-6)
    accuracy = sum(p.label == LABELS[i % 3] for i, p in enumerate(preds)) / len(preds)
    assert f"Against column 'label' ({len(TEXTS)} rows): accuracy {accuracy:.4f}" in err


def test_prediction_columns_never_collide():
    from ntmm_engine.inference.writers import prediction_columns

    cols = prediction_columns(["text", "pred_label", "p_cardio"], LABELS, models=2)
    assert cols[:5] == ["pred_label_2", "pred_score", "p_cardio_2", "p_gastro", "p_neuro"]
    assert cols[5:] == ["pred_label_3", "pred_score_2", "p_cardio_3", "p_gastro_2", "p_neuro_2"]
    assert len(set(cols) | {"text", "pred_label", "p_cardio"}) == len(cols) + 3


@pytest.mark.parametrize("suffix", [".xlsx", ".jsonl", ".json", ".tsv"])
def test_every_output_format_holds_the_same_rows(hf_dir, tmp_path, suffix):
    import pandas as pd

    src, rows = _notes_file(tmp_path, "notes.csv", sep=";")
    ref, out = tmp_path / "ref.csv", tmp_path / f"out{suffix}"
    for target in (ref, out):
        assert predict_cli(_args(model=str(hf_dir), file=str(src), out=str(target))) == 0
    expected = pd.read_csv(ref, dtype=str, keep_default_na=False)
    if suffix == ".xlsx":
        got = pd.read_excel(out, dtype=str, keep_default_na=False, sheet_name="Predictions")
    elif suffix == ".tsv":
        got = pd.read_csv(out, dtype=str, keep_default_na=False, sep="\t")
    else:
        got = pd.read_json(out, lines=suffix == ".jsonl", dtype=False)
    assert list(got.columns) == list(expected.columns)
    assert got["index"].astype(str).tolist() == [r["index"] for r in rows]
    assert got["pred_label"].fillna("").tolist() == expected["pred_label"].tolist()
    probs = pd.to_numeric(got["p_cardio"], errors="coerce").fillna(-1)
    assert np.allclose(probs, pd.to_numeric(expected["p_cardio"], errors="coerce").fillna(-1), atol=1e-6)


@pytest.mark.parametrize("name, writer", [
    ("notes.txt", lambda df, p: df.to_csv(p, index=False, sep="\t")),
    ("notes.csv.gz", lambda df, p: df.to_csv(p, index=False, sep=";", compression="gzip")),
    ("notes.xlsx", lambda df, p: df.to_excel(p, index=False, sheet_name="Notes")),
])
def test_prediction_reads_tables_as_training_does(hf_dir, tmp_path, name, writer):
    import pandas as pd

    rows = [{"index": i, "label": LABELS[i % 3], "note": t} for i, t in enumerate(TEXTS)]
    writer(pd.DataFrame(rows), tmp_path / name)
    cols, chosen = texts_file_columns(tmp_path / name)
    assert (cols, chosen) == (["index", "label", "note"], "note")
    assert read_texts_file(tmp_path / name) == TEXTS
