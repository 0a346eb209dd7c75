"""The bad-input matrix (docs/bad-inputs.md), run through the engine's real entry points.

Every case either loads correctly (quoted newlines, a 1 MB text, emoji,
float labels, ...) or ends in one plain :class:`NTMMError` message that names
the file, column, row or field; nothing is left that looks complete (no
``result.json``, no model folder, no half-written file); and the engine works
for the next, good call.

Set ``NTMM_BAD_INPUTS_LOG=/some/file.jsonl`` to record each case's message
(used to write the table in docs/bad-inputs.md).
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from testdata import make_rows, write_csv

from ntmm_engine.core.config import DataConfig, ProjectConfig, load_config
from ntmm_engine.core.errors import ConfigError, DataError, ModelError, NTMMError
from ntmm_engine.data.prepare import prepare_data, tokenize
from ntmm_engine.inference.predictors import load_predictor

GOOD_TEXTS = ["patient reports chest pain", "severe headache today"]


# ------------------------------------------------------------------ harness
@dataclass
class Env:
    tmp: Path
    tiny_bert: Path
    tiny_config: ProjectConfig
    capsys: Any
    monkeypatch: Any

    def file(self, name: str, content: bytes | str) -> Path:
        p = self.tmp / name
        p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return p

    def csv(self, name: str, rows: list[dict], fields=("text", "label")) -> Path:
        return write_csv(self.tmp / name, rows, fields)

    def teacher(self, train: Path | str | None = None, **teacher: Any):
        """run_teacher on ``train`` (the job frame, manifest and all)."""
        from ntmm_engine.train.teacher import run_teacher

        cfg = self.tiny_config
        cfg.teacher.epochs = 1
        if train is not None:
            cfg.data.train = str(train)
        for k, v in teacher.items():
            setattr(cfg.teacher, k, v)
        return run_teacher(cfg)

    def distill(self, *unlabelled: Path | str, **data: Any):
        """run_distill with ``unlabelled`` as data.unlabelled (good labelled data, the tiny model as the teacher)."""
        from ntmm_engine.distill.job import run_distill

        cfg = self.tiny_config
        cfg.data.train = str(self.csv("labelled.csv", _rows()))
        cfg.data.unlabelled = [str(u) for u in unlabelled]
        for k, v in data.items():
            setattr(cfg.data, k, v)
        cfg.distill.teacher = str(self.tiny_bert)
        return run_distill(cfg)

    def model_copy(self, name: str) -> Path:
        dst = self.tmp / name
        shutil.copytree(self.tiny_bert, dst)
        return dst

    def cli(self, *argv: str) -> str:
        """``ntmm ...`` through cli.main; returns what the user sees on stderr (the call must fail)."""
        from ntmm_engine.cli.main import main

        self.capsys.readouterr()
        rc = main(list(argv))
        err = self.capsys.readouterr().err
        assert rc == 1, f"expected a failure, got rc={rc}: {err}"
        assert err.startswith("error: ") and "unexpected" not in err, err
        return err

    def yaml(self, text: str, name: str = "p.yaml") -> Path:
        return self.file(name, text)


@dataclass
class Case:
    id: str
    what: str  # the input, in words (docs table)
    run: Callable[[Env], Any]
    error: type | None  # None: must load/succeed; "cli": run returns the CLI's stderr
    match: str = ""  # regex the message must contain
    names: tuple[str, ...] = ()  # file/column/row/field names the message must contain
    kind: str = "data"  # which good call proves the engine still works afterwards
    check: Callable[[Any, Env], None] | None = None  # extra assertions on a success


CASES: list[Case] = []


def case(*args, **kw) -> None:
    CASES.append(Case(*args, **kw))


def _rows(n: int = 10) -> list[dict]:
    return make_rows(n)


# ------------------------------------------------------------------ data: refused with a message
case("empty_file", "an empty .csv file", lambda e: e.teacher(e.file("empty.csv", b"")),
     DataError, "is empty", ("empty.csv",))
case("header_only", "a CSV with a header and no rows", lambda e: e.teacher(e.file("header.csv", "text,label\n")),
     DataError, "header but no data rows", ("header.csv",))
case("binary_as_csv", "a PNG image renamed .csv",
     lambda e: e.teacher(e.file("scan.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)),
     DataError, "not a text file", ("scan.csv",))
case("latin1", "a Latin-1 (not UTF-8) CSV",
     lambda e: e.teacher(e.file("latin1.csv", "text,label\ncaf\xe9 patient with fever,a\nb\xe9b\xe9 note,b\n".encode("latin-1"))),
     DataError, r"not UTF-8 text \(line 2, byte \d+", ("latin1.csv",))
case("utf16", "a UTF-16 CSV (Excel 'Unicode text')",
     lambda e: e.teacher(e.file("utf16.csv", ("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in _rows())).encode("utf-16"))),
     DataError, "is UTF-16 text", ("utf16.csv",))
case("ragged_rows", "a CSV whose row 3 has an extra field",
     lambda e: e.teacher(e.file("ragged.csv", "text,label\nchest pain noted,cardio\nheadache, severe,neuro\nnausea,gastro\n")),
     DataError, "different numbers of fields.*line 3", ("ragged.csv",))
case("one_class", "every row has the same label",
     lambda e: e.teacher(e.csv("one.csv", [{"text": f"note {i} about pain", "label": "x"} for i in range(20)])),
     DataError, r"only one class \('x'\)", ("one.csv", "'label'"))
case("class_with_one_example", "one class has a single row",
     lambda e: e.teacher(e.csv("rare.csv", _rows() + [{"text": "rare disease note", "label": "rare"}])),
     DataError, r"class\(es\) \['rare'\] have fewer than 3 examples", ("rare.csv",))
case("ten_thousand_classes", "10,000 distinct labels",
     lambda e: e.teacher(e.csv("many.csv", [{"text": f"note number {i} about a patient", "label": f"c{i}"} for i in range(10000)])),
     DataError, "has 10000 distinct values; NTMM supports up to 1000 classes", ("many.csv", "'label'"))
case("text_all_numbers", "the only candidate text column holds numbers",
     lambda e: e.teacher(e.csv("nums.csv", [{"text": str(1000 + i), "label": "ab"[i % 2]} for i in range(40)])),
     DataError, "no column holds free text.*'text' holds only numbers", ("nums.csv",))
case("text_column_named_numbers", "data.text_column names a column of numbers",
     lambda e: (setattr(e.tiny_config.data, "text_column", "code"),
                e.teacher(e.csv("codes.csv", [{"code": 4000 + i, "label": "ab"[i % 2]} for i in range(40)], ("code", "label"))))[-1],
     DataError, "text column 'code' holds only numbers", ("codes.csv", "'code'"))
case("duplicate_columns", "two columns both named 'text'",
     lambda e: e.teacher(e.file("dup.csv", "text,text,label\na note,b note,c\n" * 3)),
     DataError, r"duplicate column names \['text'\]", ("dup.csv",))
case("json_one_object", "a JSON file holding one object",
     lambda e: e.teacher(e.file("obj.json", json.dumps({"text": "a", "label": "b"}))),
     DataError, "one JSON object, not a list of records", ("obj.json",))
case("json_scalar", "a JSON file holding a number",
     lambda e: e.teacher(e.file("num.json", "42")),
     DataError, "not a list of JSON records", ("num.json",))
case("json_empty_list", "a JSON file holding []",
     lambda e: e.teacher(e.file("none.json", "[]")),
     DataError, "has no data rows", ("none.json",))
case("jsonl_bad_line", "a JSON Lines file whose line 3 is cut off",
     lambda e: e.teacher(e.file("notes.jsonl", "\n".join(json.dumps(r) for r in _rows()[:2]) + '\n{"text": "cut off\n')),
     DataError, "line 3: not valid JSON", ("notes.jsonl",))


def _parquet(e: Env, name: str, rows: list[dict]) -> Path:
    import pandas as pd
    p = e.tmp / name
    pd.DataFrame(rows).to_parquet(p)
    return p


case("parquet_nested_text", "Parquet whose text column holds structs (column detected)",
     lambda e: e.teacher(_parquet(e, "nested.parquet", [{"text": {"body": r["text"]}, "label": r["label"]} for r in _rows()])),
     DataError, "'text' holds nested values", ("nested.parquet",))
case("parquet_nested_text_named", "Parquet with struct texts, data.text_column set",
     lambda e: (setattr(e.tiny_config.data, "text_column", "text"),
                e.teacher(_parquet(e, "nested.parquet", [{"text": {"body": r["text"]}, "label": r["label"]} for r in _rows()])))[-1],
     DataError, "row 2: text column 'text' holds a nested value", ("nested.parquet",))
case("parquet_nested_label", "Parquet whose label column holds lists",
     lambda e: (setattr(e.tiny_config.data, "label_column", "label"),
                e.teacher(_parquet(e, "nested_label.parquet", [{"text": r["text"], "label": [r["label"]]} for r in _rows()])))[-1],
     DataError, "row 2: label column 'label' holds a nested value", ("nested_label.parquet",))
case("hub_dataset_offline", "data.train is a hub dataset name, offline",
     lambda e: e.teacher("someone/not-a-dataset"),
     DataError, "Cannot load hub dataset 'someone/not-a-dataset'", ())
case("missing_file", "data.train names a file that does not exist",
     lambda e: e.teacher(e.tmp / "nope.csv"),
     DataError, "File not found", ("nope.csv", "data.train"))
case("missing_named_column", "data.text_column names a column that is not there",
     lambda e: (setattr(e.tiny_config.data, "text_column", "notes"), e.teacher(e.csv("cols.csv", _rows())))[-1],
     DataError, "data.text_column: column 'notes' is not in", ("cols.csv",))
case("all_labels_missing", "every label is empty or NaN",
     lambda e: (setattr(e.tiny_config.data, "label_column", "label"),
                e.teacher(e.csv("nolabels.csv", [{"text": r["text"], "label": ["", "NaN"][i % 2]} for i, r in enumerate(_rows())])))[-1],
     DataError, "no usable rows", ("nolabels.csv",))
case("label_unseen_in_training", "the validation file has a label training never saw",
     lambda e: (setattr(e.tiny_config.data, "validation", str(e.csv("val.csv", _rows(2) + [{"text": "odd one", "label": "ortho"}]))),
                e.teacher(e.csv("train.csv", _rows())))[-1],
     DataError, r"label\(s\) \['ortho'\].*never occur in the training data", ("val.csv", "'label'"))
case("cli_data_binary", "`ntmm data` on a binary file",
     lambda e: e.cli("data", "--config", str(e.yaml(f"data:\n  train: {e.file('blob.csv', bytes(1024))}\nteacher:\n  base_model: {e.tiny_bert}\n"))),
     "cli", "not a text file", ("blob.csv",))


# ------------------------------------------------------------------ data: compressed files and spreadsheets
def _csv_bytes(rows: list[dict] | None = None) -> bytes:
    return ("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in (rows or _rows()))).encode()


def _zip(e: Env, name: str, members: dict[str, bytes]) -> Path:
    import zipfile

    p = e.tmp / name
    with zipfile.ZipFile(p, "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return p


def _gzip_cut(e: Env) -> Path:
    import gzip

    data = gzip.compress(_csv_bytes(_rows(40)))
    return e.file("cut.csv.gz", data[: len(data) // 2])


def _workbook(e: Env, name: str, sheets: dict[str, list[dict]]) -> Path:
    import pandas as pd

    p = e.tmp / name
    with pd.ExcelWriter(p, engine="openpyxl") as xw:
        for sheet, rows in sheets.items():
            pd.DataFrame(rows).to_excel(xw, sheet_name=sheet, index=False)
    return p


case("zip_two_tables", "a .zip holding two CSV files",
     lambda e: e.teacher(_zip(e, "two.zip", {"a.csv": _csv_bytes(), "b.csv": _csv_bytes()})),
     DataError, r"holds 2 tables \(a.csv, b.csv\); NTMM reads a .zip that holds one table", ("two.zip",))
case("zip_no_table", "a .zip holding no table (a PDF only)",
     lambda e: e.teacher(_zip(e, "docs.zip", {"notes.pdf": b"%PDF-1.4"})),
     DataError, r"holds 0 tables \(notes.pdf\)", ("docs.zip",))
case("zip_not_zip", "a text file named .zip",
     lambda e: e.teacher(e.file("fake.zip", _csv_bytes())),
     DataError, r"is not a readable .zip archive \(File is not a zip file\)", ("fake.zip",))
case("gzip_not_gzip", "a CSV named .csv.gz without being compressed",
     lambda e: e.teacher(e.file("plain.csv.gz", _csv_bytes())),
     DataError, r"is not a valid gzip file, or it is damaged or cut off \(Not a gzipped file", ("plain.csv.gz",))
case("gzip_cut_off", "a .csv.gz cut off halfway (an interrupted download)", lambda e: e.teacher(_gzip_cut(e)),
     DataError, r"is not a valid gzip file, or it is damaged or cut off \(Compressed file ended", ("cut.csv.gz",))
case("bz2_damaged", "a .csv.bz2 that is not bzip2 data",
     lambda e: e.teacher(e.file("bad.csv.bz2", b"BZh9" + bytes(range(200)))),
     DataError, r"is not a valid bz2 file, or it is damaged or cut off", ("bad.csv.bz2",))
case("sheet_not_found", "data.sheet names a sheet the workbook does not have",
     lambda e: (setattr(e.tiny_config.data, "sheet", "Notes"),
                e.teacher(_workbook(e, "book.xlsx", {"Summary": [{"n": 1}], "notes 2024": _rows()})))[-1],
     DataError, r"data.sheet: no sheet 'Notes' in .*book.xlsx \(sheets: Summary, notes 2024\)", ("book.xlsx",))
case("xlsx_not_a_workbook", "a CSV renamed .xlsx",
     lambda e: e.teacher(e.file("notes.xlsx", _csv_bytes())),
     DataError, r"notes.xlsx is not a readable Excel workbook \(File is not a zip file\).*save it again as .xlsx", ("notes.xlsx",))
case("ods_not_a_spreadsheet", "random bytes named .ods",
     lambda e: e.teacher(e.file("notes.ods", bytes(range(256)) * 4)),
     DataError, r"notes.ods is not a readable OpenDocument spreadsheet", ("notes.ods",))
case("sheet_empty", "the first sheet of a workbook is empty",
     lambda e: e.teacher(_workbook(e, "empty_first.xlsx", {"Cover": [], "Notes": _rows()})),
     DataError, r"empty_first.xlsx, sheet 'Cover' is empty.*sheets: Cover, Notes", ("empty_first.xlsx",))
case("sheet_header_only", "a sheet with a header row and no data",
     lambda e: e.teacher(_workbook(e, "header.xlsx", {"Notes": [{"text": None, "label": None}]})),
     DataError, r"header.xlsx, sheet 'Notes' has a header but no data rows", ("header.xlsx",))
case("predict_zip_two_tables", "`ntmm predict --file` on a .zip holding two tables",
     lambda e: e.cli("predict", "--model", str(e.tiny_bert), "--file",
                     str(_zip(e, "two.zip", {"a.csv": _csv_bytes(), "sub/b.tsv": _csv_bytes()}))),
     "cli", r"holds 2 tables \(a.csv, sub/b.tsv\)", ("two.zip",), kind="model")
case("predict_sheet_not_found", "`ntmm predict --sheet` names a sheet the workbook does not have",
     lambda e: e.cli("predict", "--model", str(e.tiny_bert), "--sheet", "Todo", "--file",
                     str(_workbook(e, "book.xlsx", {"Notes": _rows(), "Done": _rows(2)}))),
     "cli", r"--sheet: no sheet 'Todo' in .*book.xlsx \(sheets: Notes, Done\)", ("book.xlsx",), kind="model")

case("predict_min_confidence_out_of_range", "`ntmm predict --min-confidence 1.5`",
     lambda e: e.cli("predict", "--model", str(e.tiny_bert), "--min-confidence", "1.5", *GOOD_TEXTS),
     "cli", r"--min-confidence 1.5: must be between 0 and 1 \(0 = off\)", ("--min-confidence",), kind="model")
case("predict_target_accuracy_percent", "`ntmm predict --target-accuracy 95` (a percentage, not a share)",
     lambda e: e.cli("predict", "--model", str(e.tiny_bert), "--target-accuracy", "95", *GOOD_TEXTS),
     "cli", r"--target-accuracy 95.0: must be above 0 and at most 1 \(e.g. 0.95\)", ("--target-accuracy",), kind="model")
case("predict_target_accuracy_uncalibrated", "`ntmm predict --target-accuracy` with a model NTMM did not calibrate",
     lambda e: e.cli("predict", "--model", str(e.tiny_bert), "--target-accuracy", "0.9", *GOOD_TEXTS),
     "cli", r"has no risk-coverage curve \(it was not calibrated by NTMM\).*--min-confidence", ("tiny_bert",), kind="model")
case("predict_min_confidence_setting", "a project file with `predict.min_confidence: 2`",
     lambda e: load_config(e.yaml("predict:\n  min_confidence: 2\n")),
     ConfigError, r"predict.min_confidence: 2.0 is out of range; allowed \[0.0, 1.0\]", ("predict.min_confidence",),
     kind="config")


# ------------------------------------------------------------------ unlabelled texts (data.unlabelled): the same messages
def _plain_lines(e: Env):
    from ntmm_engine.data.unlabelled import read_unlabelled

    p = e.file("notes.txt", "\ufeffpatient with chest pain, seen today\n\n  severe headache since monday  \nnausea; vomiting\n")
    cfg = DataConfig(train=str(e.csv("labelled.csv", _rows())), unlabelled=[str(p)])
    prepared = prepare_data(cfg)
    return read_unlabelled(cfg, prepared), prepared


def _json_texts(e: Env):
    from ntmm_engine.data.unlabelled import read_unlabelled

    p = e.file("notes.json", json.dumps(["first note about the liver", "second note, with a comma", ""]))
    cfg = DataConfig(train=str(e.csv("labelled.csv", _rows())), unlabelled=[str(p)])
    prepared = prepare_data(cfg)
    return read_unlabelled(cfg, prepared), prepared


case("unlabelled_missing_file", "data.unlabelled names a file that does not exist",
     lambda e: e.distill(e.tmp / "nope.csv"), DataError, "File not found", ("nope.csv", "data.unlabelled"))
case("unlabelled_empty_file", "an empty unlabelled .csv", lambda e: e.distill(e.file("empty.csv", b"")),
     DataError, "is empty", ("empty.csv",))
case("unlabelled_header_only", "an unlabelled CSV with a header and no rows", lambda e: e.distill(e.file("header.csv", "note\n")),
     DataError, "header but no data rows", ("header.csv",))
case("unlabelled_binary", "a PNG image renamed .csv as unlabelled texts",
     lambda e: e.distill(e.file("scan.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)),
     DataError, "not a text file", ("scan.csv",))
case("unlabelled_latin1", "a Latin-1 (not UTF-8) file of unlabelled notes",
     lambda e: e.distill(e.file("latin1.csv", "note\ncaf\xe9 patient with fever\nb\xe9b\xe9 note\n".encode("latin-1"))),
     DataError, r"not UTF-8 text \(line 2, byte \d+", ("latin1.csv",))
case("unlabelled_utf16", "a UTF-16 file of unlabelled notes",
     lambda e: e.distill(e.file("utf16.txt", "first note\nsecond note\n".encode("utf-16"))),
     DataError, "is UTF-16 text", ("utf16.txt",))
case("unlabelled_ragged_rows", "an unlabelled CSV whose row 3 has an extra field",
     lambda e: e.distill(e.file("ragged.csv", "note,site\nchest pain noted,a\nheadache, severe,b\nnausea,c\n")),
     DataError, "different numbers of fields.*line 3", ("ragged.csv",))
case("unlabelled_json_one_object", "unlabelled texts as one JSON object",
     lambda e: e.distill(e.file("obj.json", json.dumps({"note": "a"}))), DataError, "one JSON object, not a list of records", ("obj.json",))
case("unlabelled_jsonl_bad_line", "an unlabelled JSON Lines file whose line 3 is cut off",
     lambda e: e.distill(e.file("notes.jsonl", '{"note": "a"}\n{"note": "b"}\n{"note": "cut off\n')),
     DataError, "line 3: not valid JSON", ("notes.jsonl",))
case("unlabelled_zip_two_tables", "a .zip of unlabelled notes holding two tables",
     lambda e: e.distill(_zip(e, "two.zip", {"a.csv": b"note\nx y\n", "b.csv": b"note\nz w\n"})),
     DataError, r"holds 2 tables \(a.csv, b.csv\)", ("two.zip",))
case("unlabelled_gzip_cut_off", "an unlabelled .csv.gz cut off halfway", lambda e: e.distill(_gzip_cut(e)),
     DataError, r"is not a valid gzip file, or it is damaged or cut off", ("cut.csv.gz",))
case("unlabelled_xlsx_not_a_workbook", "a CSV renamed .xlsx as unlabelled texts",
     lambda e: e.distill(e.file("notes.xlsx", _csv_bytes())), DataError, r"is not a readable Excel workbook", ("notes.xlsx",))
case("unlabelled_numbers_only", "the unlabelled file's only column holds numbers",
     lambda e: e.distill(e.csv("codes.csv", [{"code": 4000 + i} for i in range(20)], ("code",))),
     DataError, "no column holds free text.*'code' holds only numbers", ("codes.csv",))
case("unlabelled_missing_named_column", "data.unlabelled_text_column names a column that is not there",
     lambda e: e.distill(e.csv("notes.csv", [{"body": "a note"}], ("body",)), unlabelled_text_column="note"),
     DataError, r"data.unlabelled_text_column: column 'note' is not in .*notes.csv \(columns: body\)", ("notes.csv",))
case("unlabelled_nested_text", "unlabelled Parquet whose text column holds structs",
     lambda e: e.distill(_parquet(e, "nested.parquet", [{"text": {"body": "a"}}, {"text": {"body": "b"}}])),
     DataError, "row 2: text column 'text' holds a nested value", ("nested.parquet",))
case("unlabelled_folder_without_data", "data.unlabelled is a folder with no data file (a PDF only)",
     lambda e: ((e.tmp / "scans").mkdir(), e.file("scans/report.pdf", b"%PDF-1.4"), e.distill(e.tmp / "scans"))[-1],
     DataError, "holds no data files", ("scans", "data.unlabelled"))
case("unlabelled_all_known", "every unlabelled text is already a training, validation or test text",
     lambda e: e.distill(e.csv("same.csv", _rows())),
     DataError, r"data.unlabelled: none of the 30 texts in .*same.csv can be used", ("same.csv",))
case("cli_data_unlabelled_binary", "`ntmm data` with a binary unlabelled file",
     lambda e: e.cli("data", "--no-estimate", "--config", str(e.yaml(
         f"data:\n  train: {e.csv('d.csv', _rows())}\n  unlabelled: {e.file('blob.txt', bytes(1024))}\n"
         f"teacher:\n  base_model: {e.tiny_bert}\n"))),
     "cli", "not a text file", ("blob.txt",))
case("unlabelled_plain_lines", "a .txt of unlabelled notes, one a line (BOM, blank lines, commas, semicolons)", _plain_lines, None,
     check=lambda out, e: out[0] == ["patient with chest pain, seen today", "severe headache since monday", "nausea; vomiting"]
     or pytest.fail(str(out[0])))
case("unlabelled_json_list", "a JSON list of unlabelled texts (one empty)", _json_texts, None,
     check=lambda out, e: (out[0] == ["first note about the liver", "second note, with a comma"]
                           and out[1].report.unlabelled.dropped == {"empty text": 1}) or pytest.fail(str(out)))


# ------------------------------------------------------------------ data: must load correctly
def _quoted_newlines(e: Env):
    p = e.tmp / "multiline.csv"
    with open(p, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for r in _rows():
            w.writerow([r["text"] + '\nsecond line, with a comma and "quotes"', r["label"]])
    return prepare_data(DataConfig(train=str(p)))


def _check_quoted_newlines(prepared, e: Env) -> None:
    texts = [t for s in ("train", "validation", "test") for t in prepared.splits[s]["text"]]
    assert len(texts) == 30 and all(t.endswith('\nsecond line, with a comma and "quotes"') for t in texts)


def _one_mb_text(e: Env):
    from transformers import AutoTokenizer

    rows = _rows()
    rows[0] = {"text": "chest pain " * 95000, "label": rows[0]["label"]}  # ~1 MB in one field
    p = e.csv("big.csv", rows)
    assert p.stat().st_size > 1_000_000
    tok = AutoTokenizer.from_pretrained(e.tiny_bert)
    prepared = prepare_data(DataConfig(train=str(p), max_length=32, drop_cross_split_duplicates=False), tokenizer=tok)
    return prepared, tokenize(prepared, tok, 32)


def _check_one_mb(out, e: Env) -> None:
    prepared, tok = out
    splits = ("train", "validation", "test")
    assert max(len(t) for s in splits for t in prepared.splits[s]["text"]) > 1_000_000  # loaded whole
    lengths = [len(ids) for s in splits for ids in tok[s]["input_ids"]]
    assert max(lengths) == 32  # truncated at max_length when tokenized, not an error


EMOJI = [" 😀🩺", " 患者胸痛", " مريض يعاني", " пациент жалуется", " रोगी", " Ωμέγα"]


def _emoji(e: Env):
    rows = [{"text": r["text"] + EMOJI[i % len(EMOJI)], "label": r["label"]} for i, r in enumerate(_rows())]
    return prepare_data(DataConfig(train=str(e.csv("emoji.csv", rows)))), rows


def _check_emoji(out, e: Env) -> None:
    prepared, rows = out
    loaded = {t for s in ("train", "validation", "test") for t in prepared.splits[s]["text"]}
    assert loaded == {r["text"] for r in rows}


def _nan_labels(e: Env):
    rows = _rows() + [{"text": "no label one", "label": ""}, {"text": "no label two", "label": "NaN"},
                      {"text": "no label three", "label": "null"}, {"text": "", "label": "cardio"}]
    return prepare_data(DataConfig(train=str(e.csv("nan.csv", rows))))


def _float_labels(e: Env):
    ids = {"cardio": "1", "gastro": "2.0", "neuro": "3"}
    rows = [{"text": r["text"], "y": ids[r["label"]]} for r in _rows()]
    rows[0]["y"], rows[1]["y"], rows[2]["y"] = "1.0", "2", "3.0"
    return prepare_data(DataConfig(train=str(e.csv("floats.csv", rows, ("text", "y")))))


def _ragged_short(e: Env):
    body = "".join(f"{r['text']},{r['label']}\n" for r in _rows()) + "a row without its label\n"
    return prepare_data(DataConfig(train=str(e.file("short.csv", "text,label\n" + body))))


def _parquet_extra_nested(e: Env):
    rows = [{"text": r["text"], "label": r["label"], "meta": {"site": "a", "codes": [1, 2]}} for r in _rows()]
    return prepare_data(DataConfig(train=str(_parquet(e, "extra.parquet", rows))))


def _bom(e: Env):
    body = "".join(f"{r['text']},{r['label']}\n" for r in _rows())
    return prepare_data(DataConfig(train=str(e.file("bom.csv", "\ufefftext,label\n" + body))))


case("quoted_newlines", "quoted texts with newlines, commas and quotes inside", _quoted_newlines, None,
     check=_check_quoted_newlines)
case("one_mb_text", "one 1 MB text among short ones", _one_mb_text, None, check=_check_one_mb)
case("emoji_non_latin", "emoji, Chinese, Arabic, Cyrillic, Devanagari, Greek", _emoji, None, check=_check_emoji)
case("nan_empty_labels", "empty, NaN and null labels, an empty text", _nan_labels, None,
     check=lambda p, e: (p.report.dropped["train"] == {"missing label": 3, "empty text": 1}
                         and "Dropped from train: 3 row(s) (missing label)" in p.report.to_text()) or pytest.fail(str(p.report.dropped)))
case("float_labels", 'labels "1", "1.0", "2.0", 2 and "3.0"', _float_labels, None,
     check=lambda p, e: p.label_names == ["1", "2", "3"] or pytest.fail(str(p.label_names)))
case("ragged_short_row", "a CSV row with fewer fields than the header", _ragged_short, None,
     check=lambda p, e: p.report.dropped["train"] == {"missing label": 1} or pytest.fail(str(p.report.dropped)))
case("parquet_extra_nested_column", "Parquet with an extra struct column", _parquet_extra_nested, None,
     check=lambda p, e: (p.report.text_column, p.report.label_column) == ("text", "label") or pytest.fail(str(p.report)))
case("utf8_bom", "a UTF-8 CSV with a byte-order mark (Excel)", _bom, None,
     check=lambda p, e: p.report.text_column == "text" or pytest.fail(p.report.text_column))


# ------------------------------------------------------------------ models
def _no_weights(e: Env) -> Path:
    folder = e.model_copy("no_weights")
    (folder / "model.safetensors").unlink()
    return folder


def _pickle_only(e: Env) -> Path:
    from transformers import AutoModelForSequenceClassification

    folder = e.model_copy("pickled")
    AutoModelForSequenceClassification.from_pretrained(e.tiny_bert).save_pretrained(folder, safe_serialization=False)
    (folder / "model.safetensors").unlink()
    assert (folder / "pytorch_model.bin").is_file()
    return folder


def _truncated(e: Env) -> Path:
    folder = e.model_copy("truncated")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    return folder


def _fake_onnx_file(e: Env) -> Path:
    return e.file("model.onnx", "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n")


def _garbage_onnx_folder(e: Env) -> Path:
    import numpy as np

    folder = e.model_copy("onnx_folder")
    (folder / "model.safetensors").unlink()
    (folder / "config.json").unlink()
    (folder / "model.onnx").write_bytes(b"\x08\x07" + np.random.default_rng(0).bytes(4096))
    return folder


def _bad_config_json(e: Env) -> Path:
    folder = e.model_copy("bad_config")
    (folder / "config.json").write_text('{"architectures": ["BertForSequenceClassification"], ')
    return folder


case("hub_model_offline", "teacher.base_model is a hub name, offline",
     lambda e: e.teacher(base_model="someorg/some-model"),
     ModelError, "not a local folder and the Hugging Face hub cannot be reached", ("someorg/some-model",), kind="model")
case("model_without_weights", "a model folder without weights (predict)",
     lambda e: load_predictor(_no_weights(e)), ModelError, r"has no model weights \(\*\.safetensors\)", ("no_weights",), kind="model")
case("teacher_base_without_weights", "teacher.base_model is a folder without weights",
     lambda e: e.teacher(e.csv("d.csv", _rows()), base_model=str(_no_weights(e))),
     ModelError, "has no model weights", ("no_weights",), kind="model")
case("pickle_only", "a model folder with only pytorch_model.bin (predict)",
     lambda e: load_predictor(_pickle_only(e)), ModelError, r"holds only pickled weights \(pytorch_model.bin\).*unpickling",
     ("pickled",), kind="model")
case("teacher_base_pickle_only", "teacher.base_model holds only pytorch_model.bin",
     lambda e: e.teacher(e.csv("d.csv", _rows()), base_model=str(_pickle_only(e))),
     ModelError, "holds only pickled weights", ("pickled",), kind="model")
case("truncated_safetensors", "model.safetensors cut in half (predict)",
     lambda e: load_predictor(_truncated(e)), ModelError, "damaged or truncated", ("truncated",), kind="model")
case("teacher_base_truncated", "teacher.base_model has a truncated model.safetensors",
     lambda e: e.teacher(e.csv("d.csv", _rows()), base_model=str(_truncated(e))),
     ModelError, "damaged or truncated", ("truncated",), kind="model")
case("onnx_not_onnx", "a .onnx file that is a Git LFS pointer",
     lambda e: load_predictor(_fake_onnx_file(e)), ModelError, r"is not an ONNX model \(it is a Git LFS pointer\)",
     ("model.onnx",), kind="model")
case("onnx_garbage", "a .onnx file of random bytes in a model folder",
     lambda e: load_predictor(_garbage_onnx_folder(e)), ModelError, "not a usable ONNX model", ("model.onnx",), kind="model")
case("config_json_broken", "a model folder whose config.json is cut off",
     lambda e: load_predictor(_bad_config_json(e)), ModelError, "config.json is not valid JSON", ("bad_config",), kind="model")


def _predict_long_field(e: Env):
    """``ntmm predict --file`` on a CSV with a 1 MB field (over csv's 128 KiB default limit)."""
    from ntmm_engine.cli.main import main

    p = e.tmp / "to_predict.csv"
    with open(p, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        w.writerow([1, "chest pain " * 95000])
        w.writerow([2, "severe headache"])
    out = e.tmp / "pred.csv"
    e.capsys.readouterr()
    assert main(["predict", "--model", str(e.tiny_bert), "--file", str(p), "--out", str(out)]) == 0
    return out


def _long_rows(path: Path) -> int:
    csv.field_size_limit(2**31 - 1)  # the 1 MB field is over the csv module's 128 KiB default
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    assert len(rows[0]["text"]) > 1_000_000 and rows[0]["pred_label"]  # kept whole in the output
    return len(rows)


case("predict_file_1mb_field", "`ntmm predict --file` with a 1 MB text field", _predict_long_field, None, kind="model",
     check=lambda out, e: _long_rows(out) == 2 or pytest.fail("rows"))
case("predict_file_latin1", "`ntmm predict --file` on a Latin-1 file",
     lambda e: e.cli("predict", "--model", str(e.tiny_bert), "--file",
                     str(e.file("in.csv", "text\nfine text\ncaf\xe9 au lait\n".encode("latin-1")))),
     "cli", r"is not UTF-8 text \(line 3, byte \d+: invalid continuation byte\)", ("in.csv",), kind="model")



def _broken_temperature(e: Env):
    folder = e.model_copy("hot")
    (folder / "ntmm.json").write_text(json.dumps({"temperature": "hot", "calibration": {"temperature": [1]}}))
    return load_predictor(folder)


def _check_broken_temperature(pred, e: Env) -> None:
    assert pred.temperature == 1.0 and pred.calibration is None  # ignored: probabilities as the logits give them
    assert len(pred.predict(GOOD_TEXTS)) == 2


case("calibration_broken_in_ntmm_json", "a model whose ntmm.json has a temperature that is not a number",
     _broken_temperature, None, kind="model", check=_check_broken_temperature)


# ------------------------------------------------------------------ configs
TEACHER_CLI = ("teacher", "--config")
case("config_unknown_key", "teacher.learnin_rate (a typo)",
     lambda e: e.cli(*TEACHER_CLI, str(e.yaml("teacher:\n  learnin_rate: 0.001\n"))),
     "cli", "teacher.learnin_rate: unknown setting.*known keys: .*learning_rate", ("teacher.learnin_rate",), kind="config")
case("config_wrong_type", "teacher.batch_size: sixteen",
     lambda e: e.cli(*TEACHER_CLI, str(e.yaml("teacher:\n  batch_size: sixteen\n"))),
     "cli", "teacher.batch_size: must be a whole number, got 'sixteen'", (), kind="config")
case("config_out_of_range", "teacher.learning_rate: 5",
     lambda e: e.cli(*TEACHER_CLI, str(e.yaml("teacher:\n  learning_rate: 5\n"))),
     "cli", r"teacher.learning_rate: 5.0 is out of range; allowed \(0.0, 1.0\]", (), kind="config")
case("config_bad_choice", "teacher.lr_scheduler: cosin",
     lambda e: e.cli(*TEACHER_CLI, str(e.yaml("teacher:\n  lr_scheduler: cosin\n"))),
     "cli", "teacher.lr_scheduler: 'cosin' is not allowed; choose one of cosine", (), kind="config")
case("config_section_not_mapping", "teacher: 5",
     lambda e: load_config(e.yaml("teacher: 5\n")), ConfigError, "teacher: must be a mapping, got int", (), kind="config")
case("config_not_yaml", "a project file with broken YAML",
     lambda e: load_config(e.yaml("teacher:\n  epochs: [1,\n")), ConfigError, r"p.yaml, line 3, column 1: not valid YAML", ("p.yaml",),
     kind="config")
case("config_set_out_of_range", "--set data.max_length=4",
     lambda e: e.cli(*TEACHER_CLI, str(e.yaml("name: x\n")), "--set", "data.max_length=4"),
     "cli", r"data.max_length: 4 is out of range; allowed \[8, 8192\]", (), kind="config")
case("budget_negative", "`ntmm recommend --max-latency-ms -1`",
     lambda e: e.cli("recommend", "--config", str(e.yaml("name: x\n")), "--max-latency-ms", "-1"),
     "cli", r"benchmark.budget_max_latency_ms: -1.0 is out of range; allowed \[0.0, 10000000.0\]", (), kind="config")
case("recommend_without_benchmark", "`ntmm recommend` before any benchmark",
     lambda e: e.cli("recommend", "--config", str(e.yaml("name: x\nrun_dir: runs\n"))),
     "cli", r"No finished benchmark in .*runs.*Hint: run 'ntmm benchmark' first", ("runs",), kind="config")


# ------------------------------------------------------------------ run folders
def _run_dir_under_file(e: Env):
    e.file("afile.txt", "x")
    e.tiny_config.run_dir = str(e.tmp / "afile.txt" / "runs")
    return e.teacher(e.csv("d.csv", _rows()))


def _run_dir_holding_data(e: Env):
    data = e.csv("d.csv", _rows())
    return load_config(e.yaml(f"run_dir: .\ndata:\n  train: {data.name}\n"))


def _run_dir_holding_data_in_code(e: Env):
    e.tiny_config.run_dir = str(e.tmp)
    return e.teacher(e.csv("d.csv", _rows()))


case("run_dir_under_a_file", "run_dir is somefile.txt/runs", _run_dir_under_file,
     NTMMError, r"run_dir: the run folder .* is not writable \(.*afile.txt is a file, not a folder\)", ("afile.txt",), kind="run")
case("run_dir_root", "run_dir: /", lambda e: load_config(e.yaml("run_dir: /\n")),
     ConfigError, "run_dir: / is the root of the file system", (), kind="run")
case("run_dir_home", "run_dir: ~", lambda e: load_config(e.yaml("run_dir: '~'\n")),
     ConfigError, "run_dir: .* is your home folder itself", (), kind="run")
case("run_dir_holds_data", "run_dir: . next to the data file", _run_dir_holding_data,
     ConfigError, "run_dir: .* directly holds the input d.csv", ("d.csv",), kind="run")
case("run_dir_holds_data_in_code", "a config built in code whose run_dir holds the data", _run_dir_holding_data_in_code,
     ConfigError, "run_dir: .* directly holds the input d.csv", ("d.csv",), kind="run")


def _fail_with_enospc(*a, **kw):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _disk_full_model_save(e: Env):
    """The disk fills while the final teacher model is saved (checkpoints were fine)."""
    import transformers.modeling_utils as mu

    real = mu.safe_save_file

    def save(tensors, filename, *a, **kw):
        if ".partial" in str(filename):  # the staging folder of the final model, not a Trainer checkpoint
            real(tensors, filename, *a, **kw)
            with open(filename, "r+b") as fh:  # half a file is on disk when the write fails
                fh.truncate(os.path.getsize(filename) // 2)
            _fail_with_enospc()
        return real(tensors, filename, *a, **kw)

    e.monkeypatch.setattr(mu, "safe_save_file", save)
    return e.teacher(e.csv("d.csv", _rows()))


def _fsync_full_for(e: Env, name_part: str) -> None:
    """Make os.fsync fail with ENOSPC for files whose name contains ``name_part`` (Linux: /proc/self/fd)."""
    real = os.fsync

    def fsync(fd):
        try:
            target = os.readlink(f"/proc/self/fd/{fd if isinstance(fd, int) else fd.fileno()}")
        except OSError:
            target = ""
        if name_part in target:
            _fail_with_enospc()
        return real(fd)

    e.monkeypatch.setattr(os, "fsync", fsync)


def _disk_full_result_json(e: Env):
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to find the file being written")
    _fsync_full_for(e, ".result.json.")
    return e.teacher(e.csv("d.csv", _rows()))


def _disk_full_predictions(e: Env):
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to find the file being written")
    _fsync_full_for(e, ".preds.csv.")
    return e.cli("predict", "--model", str(e.tiny_bert), "--out", str(e.tmp / "preds.csv"), *GOOD_TEXTS)


case("disk_full_model_save", "the disk fills while the teacher model is saved", _disk_full_model_save,
     NTMMError, r"Cannot write .*teacher/model: the disk is full", ("teacher/model",), kind="run")
case("disk_full_result_json", "the disk fills while result.json is written", _disk_full_result_json,
     NTMMError, r"Cannot write .*result.json: the disk is full", ("result.json",), kind="run")
case("disk_full_predictions", "the disk fills while `ntmm predict --out` writes", _disk_full_predictions,
     "cli", r"Cannot write .*preds.csv: the disk is full", ("preds.csv",), kind="model")


# ------------------------------------------------------------------ checks
def _assert_nothing_looks_complete(root: Path, case_: Case) -> None:
    """No result.json, no 'completed' stage, no model folder, no half-written file anywhere under ``root``."""
    assert not list(root.rglob("result.json")), "a result.json claims a finished stage"
    for m in root.rglob("manifest.json"):
        stages = json.loads(m.read_text())["stages"]  # parses: the manifest is never torn
        assert all(s.get("status") != "completed" for s in stages.values()), stages
        # the failed start is recorded (and why); the stage itself is failed only if it had begun replacing outputs
        assert all(s["attempt"]["status"] == "failed" and s["attempt"]["error"] for s in stages.values()), stages
        assert all(s.get("status") in (None, "failed") for s in stages.values()), stages
    if case_.id != "disk_full_result_json":  # there the model was saved; only result.json failed
        assert not [p for p in root.rglob("*") if p.is_dir() and p.name in ("model", "student", "baseline")]
    leftovers = [p for p in root.rglob("*") if p.name.endswith((".partial", ".tmp", ".old"))]
    assert not leftovers, f"half-written files left behind: {leftovers}"
    if case_.id.startswith("disk_full_predictions"):
        assert not (root / "preds.csv").exists()


def _assert_still_usable(e: Env, kind: str, good_model: Path) -> None:
    """The next, good call works (no global state was left broken)."""
    good_csv = e.csv("good_after.csv", _rows())
    assert prepare_data(DataConfig(train=str(good_csv))).label_names == ["cardio", "gastro", "neuro"]
    if kind == "model":
        assert len(load_predictor(good_model).predict(GOOD_TEXTS)) == 2
    if kind == "config":
        good = e.yaml(f"data:\n  train: {good_csv}\nteacher:\n  batch_size: 4\n", name="good.yaml")
        assert load_config(good).teacher.batch_size == 4
    if kind == "run":
        from ntmm_engine.core.runfolder import RunFolder
        from ntmm_engine.pipeline import Pipeline

        cfg = load_config(e.yaml(f"run_dir: runs_ok\ndata:\n  train: {good_csv}\n", name="good.yaml"))
        RunFolder(cfg.run_path).ensure_writable()
        assert Pipeline(cfg).plan()["teacher"] == "run"


def _record(case_: Case, message: str, written: str) -> None:
    log = os.environ.get("NTMM_BAD_INPUTS_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"id": case_.id, "what": case_.what, "message": message, "written": written}) + "\n")


@pytest.fixture
def env(tmp_path, tiny_bert_dir, tiny_config, capsys, monkeypatch):
    return Env(tmp_path, tiny_bert_dir, tiny_config, capsys, monkeypatch)


@pytest.mark.parametrize("case_", CASES, ids=[c.id for c in CASES])
def test_bad_input(case_: Case, env: Env, tiny_bert_dir):
    if case_.error is None:
        out = case_.run(env)
        if case_.check:
            case_.check(out, env)
        _record(case_, "(loads correctly)", "nothing (or the complete output)")
    else:
        if case_.error == "cli":
            message = case_.run(env).removeprefix("error: ").strip()
        else:
            with pytest.raises(case_.error) as info:
                case_.run(env)
            message = str(info.value)
        assert "Traceback" not in message and len(message) < 1200, message
        assert case_.match and re.search(case_.match, message, flags=re.S), message
        for name in case_.names:
            assert name in message, f"{name!r} not named in: {message}"
        _assert_nothing_looks_complete(env.tmp, case_)
        _record(case_, message.replace(str(env.tmp) + "/", "").replace(str(env.tmp), "."),
                "manifest: failed" if list(env.tmp.rglob("manifest.json")) else "nothing")
    env.monkeypatch.undo()
    _assert_still_usable(env, case_.kind, tiny_bert_dir)


def test_matrix_has_the_promised_size():
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


def test_same_run_folder_works_after_failures(tiny_config, tmp_path, monkeypatch):
    """Failed runs (bad data, bad model, a full disk) leave a run folder the next good run completes in."""
    from ntmm_engine.train.teacher import run_teacher

    cfg = tiny_config
    cfg.teacher.epochs = 1
    good = cfg.data.train
    cfg.data.train = str(tmp_path / "missing.csv")
    with pytest.raises(DataError):
        run_teacher(cfg)
    cfg.data.train = good
    cfg.teacher.base_model, base = str(tmp_path / "nowhere"), cfg.teacher.base_model
    with pytest.raises(ModelError):
        run_teacher(cfg)
    cfg.teacher.base_model = base
    import transformers.modeling_utils as mu
    real = mu.safe_save_file
    monkeypatch.setattr(mu, "safe_save_file",
                        lambda t, f, *a, **k: _fail_with_enospc() if ".partial" in str(f) else real(t, f, *a, **k))
    with pytest.raises(NTMMError, match="disk is full"):
        run_teacher(cfg)
    monkeypatch.undo()
    result = run_teacher(cfg)
    assert result.status == "completed"
    root = cfg.run_path
    assert json.loads((root / "manifest.json").read_text())["stages"]["teacher"]["status"] == "completed"
    assert load_predictor(root / "teacher" / "model").predict(GOOD_TEXTS)[0].label in ("cardio", "gastro", "neuro")
    assert not [p for p in root.rglob("*") if p.name.endswith((".partial", ".tmp", ".old"))]


# ------------------------------------------------------------------ safe loading
class _Payload:
    """Unpickling this creates a marker file: proof that a pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _malicious_bin(folder: Path, marker: Path) -> None:
    import pickle

    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(marker)))


def test_pickles_are_never_executed(tmp_path, tiny_bert_dir):
    """A model folder's pickle is ignored beside safetensors, refused alone, and with allow_pickle only
    loaded with weights_only=True, which refuses code; the payload never runs."""
    marker = tmp_path / "pwned"
    both = tmp_path / "both"
    shutil.copytree(tiny_bert_dir, both)
    _malicious_bin(both, marker)
    assert len(load_predictor(both).predict(GOOD_TEXTS)) == 2  # safetensors used, the .bin never opened
    only = tmp_path / "only_pickle"
    shutil.copytree(tiny_bert_dir, only)
    (only / "model.safetensors").unlink()
    _malicious_bin(only, marker)
    with pytest.raises(ModelError, match="holds only pickled weights"):
        load_predictor(only)
    with pytest.raises(ModelError, match=r"cannot be loaded safely \(weights_only=True\)"):
        load_predictor(only, allow_pickle=True)
    from ntmm_engine.core.models import load_classifier
    with pytest.raises(ModelError, match="holds only pickled weights"):
        load_classifier(str(only))
    assert not marker.exists(), "a pickle was executed"


def test_trust_remote_code_comes_only_from_the_config():
    """Every ``trust_remote_code=`` in the engine passes False, a config field, or a parameter defaulting to False."""
    import ast

    import ntmm_engine

    seen = 0
    for path in sorted(Path(ntmm_engine.__file__).parent.rglob("*.py")):  # every sub-package too
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            for kw in getattr(node, "keywords", []) if isinstance(node, ast.Call) else []:
                if kw.arg != "trust_remote_code":
                    continue
                seen += 1
                v, where = kw.value, f"{path.name}:{node.lineno}"
                if isinstance(v, ast.Constant):
                    assert v.value is False, f"{where} sets trust_remote_code={v.value!r}"
                elif isinstance(v, ast.Attribute):  # t.trust_remote_code, cfg.teacher.trust_remote_code
                    assert v.attr == "trust_remote_code", f"{where} passes {ast.unparse(v)}"
                else:
                    assert isinstance(v, ast.Name) and v.id == "trust_remote_code", f"{where} passes {ast.unparse(v)}"
                    fn = node
                    while not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        fn = parents[fn]
                    args = fn.args.args + fn.args.kwonlyargs
                    defaults = dict(zip([a.arg for a in fn.args.args][::-1], fn.args.defaults[::-1]))
                    defaults.update({a.arg: d for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults) if d is not None})
                    assert "trust_remote_code" in [a.arg for a in args], where
                    d = defaults.get("trust_remote_code")
                    assert isinstance(d, ast.Constant) and d.value is False, f"{fn.name} must default trust_remote_code to False"
    assert seen >= 4
    cfg = ProjectConfig()
    assert cfg.teacher.trust_remote_code is False and cfg.distill.trust_remote_code is False


def test_engine_writes_only_inside_the_run_folder(tmp_path, tiny_bert_dir):
    """A teacher run touches nothing in the project folder but its run folder (the inputs stay as they were)."""
    from ntmm_engine.train.teacher import run_teacher

    project = tmp_path / "project"
    project.mkdir()
    write_csv(project / "data.csv", _rows())
    (project / "p.yaml").write_text(f"run_dir: runs\ndata:\n  train: data.csv\n  max_length: 16\n"
                                    f"teacher:\n  base_model: {tiny_bert_dir}\n  epochs: 1\n  batch_size: 8\n"
                                    f"  gradient_accumulation_steps: 1\n  device: cpu\n")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    model_before = {p: p.stat().st_mtime_ns for p in tiny_bert_dir.rglob("*")}
    cfg = load_config(project / "p.yaml")
    assert cfg.run_path == project / "runs"
    assert run_teacher(cfg).status == "completed"
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    changed = sorted(str(p.relative_to(tmp_path)) for p in after if before.get(p) != after[p])
    outside = [c for c in changed if not c.startswith("project/runs")]
    assert outside == ["project"], outside  # only the project folder's own entry (runs/ was created in it)
    assert {p: p.stat().st_mtime_ns for p in tiny_bert_dir.rglob("*")} == model_before  # the base model is read-only to us


@pytest.mark.parametrize("run_dir, data, error", [
    ("runs", "data.csv", None), ("sub/runs", "data.csv", None), ("data", "data/d.csv", "directly holds the input d.csv"),
    (".", "data.csv", "directly holds the input data.csv"), (".", "data/d.csv", "is the project's own folder"),
    ("/", "data.csv", "root of the file system"), ("~", "data.csv", "your home folder itself")])
def test_run_dir_check_in_validate(tmp_path, run_dir, data, error):
    (tmp_path / data).parent.mkdir(exist_ok=True)
    write_csv(tmp_path / data, _rows())
    text = f"run_dir: '{run_dir}'\ndata:\n  train: {data}\n"
    if error is None:
        assert load_config(write_text(tmp_path / "p.yaml", text)).run_path == (tmp_path / run_dir).resolve()
    else:
        with pytest.raises(ConfigError, match=f"^run_dir: .*{re.escape(error)}"):
            load_config(write_text(tmp_path / "p.yaml", text))


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_disk_full_while_the_trainer_saves_a_checkpoint(tiny_config, monkeypatch):
    import transformers.modeling_utils as mu

    from ntmm_engine.train.teacher import run_teacher

    real = mu.safe_save_file
    monkeypatch.setattr(mu, "safe_save_file",
                        lambda t, f, *a, **k: _fail_with_enospc() if "checkpoint-" in str(f) else real(t, f, *a, **k))
    tiny_config.teacher.epochs = 1
    try:
        with pytest.raises(NTMMError, match="disk is full"):
            run_teacher(tiny_config)
    finally:  # whatever the message, the run folder must not claim anything
        root = tiny_config.run_path
        assert not list(root.rglob("result.json")) and not (root / "teacher" / "model").exists()
        assert json.loads((root / "manifest.json").read_text())["stages"]["teacher"]["status"] == "failed"
