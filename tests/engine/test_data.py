"""Data loading in every format, column detection, splits, labels, the report, and clear errors."""

import json

import pytest
from testdata import make_rows, write_csv

from ntmm_engine.core.config import DataConfig
from ntmm_engine.core.errors import DataError
from ntmm_engine.data.columns import detect_columns
from ntmm_engine.data.prepare import prepare_data, tokenize
from ntmm_engine.data.readers import load_table


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


# ------------------------------------------------------------- delimiters, compression, spreadsheets
def _notes(n=5):
    """index, label, text; half the texts hold a comma (what makes a naive comma split go wrong)."""
    return [{"index": i, "label": r["label"], "text": r["text"] + (", severe" if i % 2 else "")}
            for i, r in enumerate(make_rows(n))]


def _write_variant(tmp_path, variant: str, rows):
    import bz2
    import gzip
    import zipfile

    import pandas as pd
    import xlwt

    df = pd.DataFrame(rows)
    csv_text = {"comma": df.to_csv(index=False), "semicolon": df.to_csv(index=False, sep=";"),
                "tab": df.to_csv(index=False, sep="\t"), "pipe": df.to_csv(index=False, sep="|")}
    p = tmp_path / {"comma": "n.csv", "semicolon": "n.csv", "tab": "n.txt", "tsv": "n.tsv", "pipe": "n.csv",
                    "bom_semicolon": "n.csv", "gz": "n.csv.gz", "bz2": "n.tsv.bz2", "zip": "n.zip", "xlsx": "n.xlsx",
                    "xlsx_zip": "book.zip", "xls": "n.xls", "ods": "n.ods", "jsonl_gz": "n.jsonl.gz"}[variant]
    if variant in csv_text:
        p.write_text(csv_text[variant], encoding="utf-8")
    elif variant == "tsv":
        p.write_text(csv_text["tab"], encoding="utf-8")
    elif variant == "bom_semicolon":  # what Excel's "CSV UTF-8" writes in much of Europe
        p.write_text("\ufeff" + csv_text["semicolon"], encoding="utf-8")
    elif variant == "gz":
        p.write_bytes(gzip.compress(csv_text["semicolon"].encode()))
    elif variant == "bz2":
        p.write_bytes(bz2.compress(csv_text["tab"].encode()))
    elif variant == "zip":
        with zipfile.ZipFile(p, "w") as zf:
            zf.writestr("export/notes.csv", csv_text["semicolon"])
            zf.writestr("__MACOSX/export/._notes.csv", b"\x00\x05")  # macOS metadata is ignored
    elif variant in ("xlsx", "xlsx_zip"):
        target = tmp_path / "n.xlsx"
        with pd.ExcelWriter(target, engine="openpyxl") as xw:
            df.to_excel(xw, sheet_name="Notes", index=False)
            pd.DataFrame({"n": [1]}).to_excel(xw, sheet_name="Summary", index=False)
        if variant == "xlsx_zip":
            with zipfile.ZipFile(p, "w") as zf:
                zf.write(target, "n.xlsx")
    elif variant == "xls":  # the old binary format (xlwt writes it; pandas reads it with python-calamine)
        book = xlwt.Workbook()
        sheet = book.add_sheet("Notes")
        for j, c in enumerate(df.columns):
            sheet.write(0, j, c)
        for i, row in enumerate(df.itertuples(index=False), 1):
            for j, v in enumerate(row):
                sheet.write(i, j, v)
        book.save(str(p))
    elif variant == "ods":
        df.to_excel(p, sheet_name="Notes", index=False, engine="odf")
    elif variant == "jsonl_gz":
        p.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in rows).encode()))
    return p


VARIANTS = {
    "comma": "comma-separated, UTF-8", "semicolon": "semicolon-separated, UTF-8", "tab": "tab-separated, UTF-8",
    "tsv": "tab-separated, UTF-8", "pipe": "pipe-separated, UTF-8", "bom_semicolon": "semicolon-separated, UTF-8 with BOM",
    "gz": "semicolon-separated, UTF-8, gzip-compressed", "bz2": "tab-separated, UTF-8, bz2-compressed",
    "zip": "semicolon-separated, UTF-8, export/notes.csv in a .zip", "xlsx": "Excel workbook, sheet 'Notes'",
    "xlsx_zip": "Excel workbook, sheet 'Notes', n.xlsx in a .zip", "xls": "Excel workbook, sheet 'Notes'",
    "ods": "OpenDocument spreadsheet, sheet 'Notes'", "jsonl_gz": "JSON Lines, UTF-8, gzip-compressed",
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_loads_the_same_rows_as_the_comma_separated_file(tmp_path, variant):
    from ntmm_engine.data.readers import read_source

    rows = _notes()
    (tmp_path / "ref").mkdir()
    reference = load_table(str(_write_variant(tmp_path / "ref", "comma", rows))).to_pandas()
    ds, how = read_source(str(_write_variant(tmp_path, variant, rows)))
    assert how == VARIANTS[variant]
    frame = ds.to_pandas()
    assert list(frame.columns) == ["index", "label", "text"]
    assert frame.astype(str).equals(reference.astype(str)), frame.head()
    assert sum(t.endswith(", severe") for t in frame["text"]) == len(rows) // 2  # commas stayed inside the texts
    # the data report says what was read
    prepared = prepare_data(DataConfig(train=str(_write_variant(tmp_path, variant, rows))), seed=1)
    assert prepared.report.formats == {"train": VARIANTS[variant]}
    assert f"Read train as: {VARIANTS[variant]}" in prepared.report.to_text()
    assert (prepared.report.text_column, prepared.report.label_column) == ("text", "label")


def test_sheet_setting_picks_the_sheet(tmp_path):
    import pandas as pd

    p = tmp_path / "book.xlsx"
    with pd.ExcelWriter(p, engine="openpyxl") as xw:
        pd.DataFrame({"n": [1, 2]}).to_excel(xw, sheet_name="Summary", index=False)
        pd.DataFrame(_notes()).to_excel(xw, sheet_name="Notes", index=False)
    prepared = prepare_data(DataConfig(train=str(p), sheet="Notes"), seed=1)
    assert prepared.report.formats["train"] == "Excel workbook, sheet 'Notes'"
    assert prepared.label_names == ["cardio", "gastro", "neuro"]
    with pytest.raises(DataError, match=r"data.sheet: no sheet 'Nope' in .*\(sheets: Summary, Notes\)"):
        prepare_data(DataConfig(train=str(p), sheet="Nope"))


def test_sniffer_decides_by_the_header():
    from ntmm_engine.data.tables import sniff_delimiter

    # each text holds exactly one comma: csv.Sniffer alone would take the comma
    text = "text;label\n" + "".join(f"chest pain {i}, severe;cardio\n" for i in range(20))
    assert sniff_delimiter(text) == ";"
    assert sniff_delimiter("text,label\n" + "".join(f"a; b {i},x\n" for i in range(20))) == ","
    assert sniff_delimiter("just one column\nof text\n") == ""
    # a ragged row does not change the delimiter (the reader then names the row)
    assert sniff_delimiter("text,label\nchest pain,cardio\nheadache, severe,neuro\nnausea,gastro\n") == ","
