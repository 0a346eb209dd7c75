"""Data loading in every format, column detection, splits, labels, the report, and clear errors."""

import json

import pytest

from testdata import make_rows, write_csv
from ntmm_engine.core.config import DataConfig
from ntmm_engine.data.columns import detect_columns
from ntmm_engine.data.readers import load_table
from ntmm_engine.data.prepare import prepare_data, tokenize
from ntmm_engine.core.errors import DataError


def _rows(n=10):
    return [{"id": i, "note": r["text"], "dx": r["label"]} for i, r in enumerate(make_rows(n))]


def _write(tmp_path, fmt, rows):
    import pandas as pd

    df = pd.DataFrame(rows)
    p = tmp_path / f"d.{fmt}"
    if fmt == "csv":
        df.to_csv(p, index=False)
    elif fmt == "tsv":
        df.to_csv(p, sep="\t", index=False)
    elif fmt == "json":
        p.write_text(json.dumps(rows))
    elif fmt == "jsonl":
        p.write_text("\n".join(json.dumps(r) for r in rows))
    elif fmt == "parquet":
        df.to_parquet(p)
    elif fmt == "disk":
        import datasets
        p = tmp_path / "saved"
        datasets.Dataset.from_pandas(df).save_to_disk(str(p))
    return p


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl", "parquet", "disk"])
def test_every_format_loads_and_detects_columns(tmp_path, fmt):
    p = _write(tmp_path, fmt, _rows())
    ds = load_table(str(p))
    assert len(ds) == 30
    assert detect_columns(ds) == ("note", "dx")
    prepared = prepare_data(DataConfig(train=str(p)), seed=1)
    assert prepared.label_names == ["cardio", "gastro", "neuro"]
    assert sum(len(prepared.splits[s]) for s in ("train", "validation", "test")) == 30


def test_user_named_columns_override_detection(tmp_path):
    rows = [{**r, "site": "ab"[i % 2]} for i, r in enumerate(_rows())]
    p = _write(tmp_path, "csv", rows)
    prepared = prepare_data(DataConfig(train=str(p), text_column="note", label_column="site"), seed=1)
    assert prepared.report.label_column == "site" and prepared.label_names == ["a", "b"]
    with pytest.raises(DataError, match="column 'nope' is not in"):
        prepare_data(DataConfig(train=str(p), text_column="nope"))


def test_stratified_split_is_seeded_and_keeps_class_shares(tmp_path):
    p = write_csv(tmp_path / "a.csv", make_rows(50))
    a = prepare_data(DataConfig(train=str(p), validation_ratio=0.2, test_ratio=0.2), seed=3)
    b = prepare_data(DataConfig(train=str(p), validation_ratio=0.2, test_ratio=0.2), seed=3)
    c = prepare_data(DataConfig(train=str(p), validation_ratio=0.2, test_ratio=0.2), seed=4)
    assert a.splits["test"]["text"] == b.splits["test"]["text"]
    assert a.splits["test"]["text"] != c.splits["test"]["text"]
    for split, n in (("validation", 10), ("test", 10), ("train", 30)):
        assert a.report.counts[split] == {"cardio": n, "gastro": n, "neuro": n}


def test_given_validation_and_test_files_are_used(tmp_path):
    train = write_csv(tmp_path / "train.csv", make_rows(20, seed=1))
    val = write_csv(tmp_path / "val.csv", make_rows(3, seed=2))
    test = write_csv(tmp_path / "test.csv", make_rows(4, seed=3))
    prepared = prepare_data(DataConfig(train=str(train), validation=str(val), test=str(test),
                                       drop_cross_split_duplicates=False))
    assert len(prepared.splits["validation"]) == 9 and len(prepared.splits["test"]) == 12
    assert len(prepared.splits["train"]) == 60


def test_integer_labels_with_names_file_and_float_strings(tmp_path):
    rows = [{"text": r["text"], "y": {"cardio": 1, "gastro": 2, "neuro": 3}[r["label"]]} for r in make_rows(10)]
    rows[0]["y"] = "1.0"  # same class as 1
    p = write_csv(tmp_path / "a.csv", rows, ("text", "y"))
    names = tmp_path / "labels.csv"
    names.write_text("condition_label,condition_name\n1,heart\n2,gut\n3,brain\n")
    prepared = prepare_data(DataConfig(train=str(p), label_names=str(names)))
    assert prepared.label_names == ["heart", "gut", "brain"]
    assert prepared.id2label == {0: "heart", 1: "gut", 2: "brain"}


def test_report_counts_drops_and_token_lengths(tmp_path, tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    rows = make_rows(10)
    rows += [{"text": "", "label": "cardio"}, {"text": "no label here", "label": ""}]
    train = write_csv(tmp_path / "train.csv", rows)
    test = write_csv(tmp_path / "test.csv", rows[:3] + make_rows(2, seed=9))
    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    prepared = prepare_data(DataConfig(train=str(train), test=str(test), max_length=8), tokenizer=tok)
    r = prepared.report
    assert r.dropped["train"] == {"empty text": 1, "missing label": 1}
    assert r.dropped["test"] == {"duplicate of a training text": 3}
    assert set(r.token_lengths) == {"p50", "p90", "p95", "p99", "max"}
    assert 0 < r.truncated_share <= 1
    assert "Dropped from train: 1 row(s) (empty text)" in r.to_text()


def test_tokenize_pads_nothing(tmp_path, tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    p = write_csv(tmp_path / "a.csv", make_rows(10))
    prepared = prepare_data(DataConfig(train=str(p)))
    tok = tokenize(prepared, AutoTokenizer.from_pretrained(tiny_tokenizer_dir), max_length=12)
    lengths = {len(x) for x in tok["train"]["input_ids"]}
    assert max(lengths) <= 12 and len(lengths) > 1  # no padding to a fixed length
    assert "labels" in tok["train"].column_names


# ------------------------------------------------------------- bad data
def _bad(tmp_path, name, content: bytes):
    p = tmp_path / name
    p.write_bytes(content)
    return p


@pytest.mark.parametrize("name, content, message", [
    ("empty.csv", b"", "is empty"),
    ("header.csv", b"text,label\n", "header but no data rows"),
    ("latin1.csv", "text,label\ncaf\xe9 patient with fever,a\nb\xe9b\xe9,b\n".encode("latin-1"), "not UTF-8"),
    ("binary.csv", bytes(range(256)) * 4, "not a text file"),
    ("obj.json", b'{"text": "a", "label": "b"}', "not a list of records"),
    ("dup.csv", b"text,text,label\na,b,c\n", "duplicate column names"),
])
def test_unreadable_files_give_clear_errors(tmp_path, name, content, message):
    with pytest.raises(DataError, match=message) as err:
        prepare_data(DataConfig(train=str(_bad(tmp_path, name, content))))
    assert name in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="File not found"):
        prepare_data(DataConfig(train=str(tmp_path / "nope.csv")))


def test_hub_name_offline_fails_cleanly(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataError, match="Cannot load hub dataset 'someone/not-a-dataset'"):
        prepare_data(DataConfig(train="someone/not-a-dataset"))


def test_no_text_column(tmp_path):
    p = write_csv(tmp_path / "n.csv", [{"a": i, "b": i % 2} for i in range(20)], ("a", "b"))
    with pytest.raises(DataError, match="no column holds free text"):
        prepare_data(DataConfig(train=str(p)))


def test_one_class_only(tmp_path):
    p = write_csv(tmp_path / "one.csv", [{"text": f"note {i}", "label": "x"} for i in range(20)])
    with pytest.raises(DataError, match="only one class"):
        prepare_data(DataConfig(train=str(p), label_column="label"))


def test_class_too_small_to_stratify(tmp_path):
    rows = make_rows(10) + [{"text": "rare disease note", "label": "rare"}]
    p = write_csv(tmp_path / "small.csv", rows)
    with pytest.raises(DataError, match=r"class\(es\) \['rare'\] have fewer than 3 examples"):
        prepare_data(DataConfig(train=str(p)))


def test_label_unseen_in_training(tmp_path):
    train = write_csv(tmp_path / "train.csv", make_rows(10))
    val = write_csv(tmp_path / "val.csv", make_rows(2, seed=5) + [{"text": "odd one", "label": "ortho"}])
    with pytest.raises(DataError, match=r"val.csv: label\(s\) \['ortho'\].*never occur in the training data"):
        prepare_data(DataConfig(train=str(train), validation=str(val)))
