"""Data page: preview, column choice, analysis charts, invalid files."""

from __future__ import annotations

import csv


def test_csv_fills_preview_columns_and_charts(make_window, tiny_project, wait_idle, tmp_path):
    w = make_window(tiny_project)
    page = w.page("data")
    wait_idle(w)
    assert page.table.rowCount() == 50 and page.table.columnCount() == 2
    headers = [page.table.horizontalHeaderItem(i).text() for i in range(2)]
    assert headers == ["text", "label"]
    combo_items = [page.label_combo.itemData(i) for i in range(page.label_combo.count())]
    assert combo_items == ["", "text", "label"]
    assert "label" in page.label_combo.itemText(0)  # "(detect automatically: label)"
    # analysis: classes per split in the bar chart, token lengths in the histogram
    assert page.class_chart.categories == ["cardio", "gastro", "neuro"]
    assert set(page.class_chart.series) == {"train", "validation", "test"}
    assert sum(sum(v) for v in page.class_chart.series.values()) == 60
    assert len(page.length_chart.values) > 0 and page.length_chart.marker_value == 32
    assert "60 texts" in w.steps.item(0).text()

    # A file with other column names: the detected columns change and a choice is written to the config.
    other = tmp_path / "other.csv"
    with open(other, "w", newline="", encoding="utf-8") as fh:
        wr = csv.writer(fh)
        wr.writerow(["id", "note", "dept"])
        for i in range(30):
            wr.writerow([i, f"patient note number {i} about the {'heart' if i % 2 else 'brain'} and more words", ["a", "b"][i % 2]])
    page.paths["train"].edit.setText(str(other))
    page.paths["train"].edit.editingFinished.emit()
    wait_idle(w)
    assert w.project.config.data.train == str(other)
    assert [page.text_combo.itemData(i) for i in range(page.text_combo.count())] == ["", "id", "note", "dept"]
    idx = page.label_combo.findData("dept")
    page.label_combo.setCurrentIndex(idx)
    page.label_combo.activated.emit(idx)
    assert w.project.config.data.label_column == "dept"
    assert w.isWindowModified()
    wait_idle(w)
    assert page.class_chart.categories == ["a", "b"]


def test_invalid_file_shows_error_and_app_stays_usable(make_window, tiny_project, wait_idle, dialogs, tmp_path, easy_csv):
    w = make_window(tiny_project)
    page = w.page("data")
    wait_idle(w)
    bad = tmp_path / "broken.csv"
    bad.write_bytes(b"text,label\n\x00\x01\x02 binary \xff\xfe,1\n")
    page.paths["train"].edit.setText(str(bad))
    page.paths["train"].edit.editingFinished.emit()
    wait_idle(w)
    assert dialogs.errors == []  # inline, like the data check's problems: both follow every edit
    assert page.warnings.isVisible() and "binary" in page.warnings.text()
    assert page.table.rowCount() == 0
    # still usable: navigate, and load a good file again
    w.go_next()
    assert w.current_page.key == "teacher"
    w.go_back()
    page.paths["train"].edit.setText(str(easy_csv))
    page.paths["train"].edit.editingFinished.emit()
    wait_idle(w)
    assert page.table.rowCount() == 50 and dialogs.errors == [] and not page.warnings.isVisible()
    # the error went to the log file as well
    from ntmm_app.errors import log_path
    assert "binary" in log_path().read_text(encoding="utf-8")


def test_data_problems_are_shown_inline(make_window, tmp_path, tiny_config, wait_idle, dialogs):
    one_class = tmp_path / "one.csv"
    one_class.write_text("text,label\n" + "".join(f"note {i} text here,x\n" for i in range(20)))
    tiny_config.data.train = str(one_class)
    tiny_config.save(tmp_path / "p.yaml")
    w = make_window(tmp_path / "p.yaml")
    page = w.page("data")
    wait_idle(w)
    assert dialogs.errors == []
    assert page.warnings.isVisible() and "only one class" in page.warnings.text()


def test_semicolon_and_excel_files_preview_with_what_was_detected(make_window, tiny_project, wait_idle, tmp_path, dialogs):
    import pandas as pd
    from testdata import make_rows

    w = make_window(tiny_project)
    page = w.page("data")
    wait_idle(w)
    assert "Read as: comma-separated, UTF-8." in page.preview_status.text()
    rows = [{"label": r["label"], "text": r["text"] + ", severe"} for r in make_rows(10)]
    semi = tmp_path / "semi.csv"
    pd.DataFrame(rows).to_csv(semi, sep=";", index=False)
    page.paths["train"].edit.setText(str(semi))
    page.paths["train"].edit.editingFinished.emit()
    wait_idle(w)
    assert page.table.columnCount() == 2 and "Read as: semicolon-separated, UTF-8." in page.preview_status.text()
    assert page.class_chart.categories == ["cardio", "gastro", "neuro"]
    book = tmp_path / "book.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as xw:
        pd.DataFrame({"n": [1]}).to_excel(xw, sheet_name="Summary", index=False)
        pd.DataFrame(rows).to_excel(xw, sheet_name="Notes", index=False)
    page.paths["train"].edit.setText(str(book))
    page.paths["train"].edit.editingFinished.emit()
    page.sheet_edit.setText("Notes")
    page.sheet_edit.editingFinished.emit()
    wait_idle(w)
    assert w.project.config.data.sheet == "Notes"
    assert "Read as: Excel workbook, sheet 'Notes'." in page.preview_status.text()
    assert sum(sum(v) for v in page.class_chart.series.values()) == 30
    page.sheet_edit.setText("Nope")
    page.sheet_edit.editingFinished.emit()
    wait_idle(w)
    assert "no sheet 'Nope'" in page.warnings.text() and "sheets: Summary, Notes" in page.warnings.text()


def test_unlabelled_texts_field_preview_and_counts(make_window, tiny_config, tmp_path, wait_idle, dialogs):
    """The unlabelled notes: a field, a preview of the first rows, and what the check kept and dropped."""
    from testdata import make_rows, write_csv

    train = make_rows(20)
    notes = [{"id": i, "note": f"{r['text']} seen in clinic {i}"} for i, r in enumerate(make_rows(10, seed=7))]
    notes += [{"id": 100, "note": train[0]["text"]}, {"id": 101, "note": ""}]  # a training text and an empty one
    write_csv(tmp_path / "notes.csv", notes, ("id", "note"))
    tiny_config.save(tmp_path / "p.yaml")
    w = make_window(tmp_path / "p.yaml")
    page = w.page("data")
    wait_idle(w)
    assert "No unlabelled texts" in page.unlabelled_status.text()
    page.unlabelled_edit.edit.setText("notes.csv")  # relative to the project file, as every path field
    page.unlabelled_edit.edit.editingFinished.emit()
    wait_idle(w)
    assert w.project.config.data.unlabelled == ["notes.csv"]
    assert page.unlabelled_table.rowCount() == 32 and page.unlabelled_table.columnCount() == 2
    assert "Texts from column <b>note</b>" in page.unlabelled_status.text()
    assert "note" in page.unlabelled_combo.itemText(0)  # "(detect automatically: note)"
    # the check: used, read, dropped, token lengths
    u = page.analysis.report.unlabelled
    assert (u.used, u.read) == (30, 32) and u.dropped == {"empty text": 1, "duplicate of a training text": 1}
    assert "Unlabelled texts: 30</b> used of 32 read" in page.summary.text()
    assert "1 empty text" in page.unlabelled_note.text() and "Token lengths: median" in page.unlabelled_note.text()
    assert len(page.unlabelled_lengths.values) == 30 and page.unlabelled_lengths.marker_value == 32
    assert "student:" in page.baseline_note.text() and "with the unlabelled texts" in page.baseline_note.text()
    # choosing the column by hand goes into the config
    idx = page.unlabelled_combo.findData("id")
    page.unlabelled_combo.setCurrentIndex(idx)
    page.unlabelled_combo.activated.emit(idx)
    assert w.project.config.data.unlabelled_text_column == "id"
    wait_idle(w)
    assert "holds only numbers" in page.warnings.text()  # the check says why these cannot be used
    assert not dialogs.errors


def test_every_panel_shows_the_file_chosen_now(make_window, tiny_project, wait_idle, dialogs, tmp_path, easy_csv):
    """Issue 18: one-class -> binary -> header-only -> good file; no panel keeps the previous file's error,
    report, charts or augmentation examples."""
    w = make_window(tiny_project)
    page = w.page("data")
    w.go_to(w.pages.index(page))
    page.tabs.setCurrentWidget(page.augment_preview)
    wait_idle(w)

    def choose(path) -> None:
        page.paths["train"].edit.setText(str(path))
        page.paths["train"].edit.editingFinished.emit()
        wait_idle(w)
        page.run_augment_preview()
        wait_idle(w)

    choose(easy_csv)
    assert page.augment_preview.pairs and page.class_chart.categories
    one = tmp_path / "one.csv"
    one.write_text("text,label\n" + "".join(f"note {i} about the knee,x\n" for i in range(20)))
    choose(one)
    assert "only one class" in page.warnings.text()
    binary = tmp_path / "scan.csv"
    binary.write_bytes(b"text,label\n\x00\x01\x02 binary \xff\xfe,1\n")
    choose(binary)
    assert "binary" in page.warnings.text() and "one class" not in page.warnings.text()
    assert not page.class_chart.categories and not page.augment_preview.pairs  # no charts or examples of an earlier file
    header = tmp_path / "header.csv"
    header.write_text("text,label\n")
    choose(header)
    assert "header" in page.warnings.text() and "binary" not in page.warnings.text()
    assert page.table.rowCount() == 0 and not page.class_chart.categories and not page.augment_preview.pairs
    choose(easy_csv)
    assert not page.warnings.isVisible() and page.class_chart.categories and page.augment_preview.pairs
    assert dialogs.errors == []
