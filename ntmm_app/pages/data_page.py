"""Data step: pick the files, check the columns and see what the data holds."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ntmm_engine import api
from ntmm_engine.core.config import field_help

from .. import errors
from ..widgets.augment_preview import AugmentPreview
from ..widgets.charts import BarChart, Histogram
from ..widgets.config_form import ConfigForm
from ..widgets.metrics_view import read_only_table, text_item
from ..widgets.path_edit import PathEdit
from ..widgets.responsive_row import ResponsiveRow
from .base import AppContext, StepPage, settings_and_panel

AUGMENT_PREVIEW = 4  # texts shown with an augmented copy
DETECT = "(detect automatically)"

def fill_table(table, columns: list[str], rows: list[list]) -> None:
    """The preview rows in ``table``; long cells are cut (the tooltip holds more)."""
    table.clear()
    table.setColumnCount(len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.setRowCount(len(rows))
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            text = "" if v is None else str(v)
            item = text_item(text if len(text) < 200 else text[:199] + "…")
            item.setToolTip(text[:2000])
            table.setItem(i, j, item)
    if columns:
        table.resizeColumnsToContents()
        for j in range(len(columns)):
            table.setColumnWidth(j, min(table.columnWidth(j), 380))


def fill_column_combo(combo: QComboBox, columns: list[str], current: str, detected: str) -> None:
    """"(detect automatically: X)" and the file's columns; a chosen column the file lacks stays, marked."""
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(f"{DETECT[:-1]}: {detected})" if detected else DETECT, "")
    for c in columns:
        combo.addItem(c, c)
    if current and current not in columns:
        combo.addItem(f"{current} (not in the file)", current)
    idx = combo.findData(current) if current else 0
    combo.setCurrentIndex(max(idx, 0))
    combo.blockSignals(False)


def unlabelled_summary(u: api.UnlabelledReport) -> str:
    """One line on the unlabelled texts: used, read, dropped and why."""
    dropped = ", ".join(f"{n} {reason}" for reason, n in u.dropped.items() if n)
    return (f"<b>Unlabelled texts: {u.used}</b> used of {u.read} read from {len(u.files)} file(s)"
            + (f" (dropped: {dropped})." if dropped else "."))


class DataPage(StepPage):
    key = "data"
    title = "Data"
    description = ("Choose labelled texts: one training file (validation and test are split off it) or separate files. "
                   "Check the columns and the class balance before training.")

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.preview_data: api.DataPreview | None = None
        self.analysis: api.DataAnalysis | None = None
        self._stale_preview = True
        self._stale_analysis = True

        # -------- left: sources, columns, splits, project
        left = QWidget()
        lv = QVBoxLayout(left)
        files = QGroupBox("Data files", left)
        ff = QFormLayout(files)
        self.paths: dict[str, PathEdit] = {}
        for name, label, ph in (("train", "&Training data", "CSV, Excel, JSON… file, save_to_disk folder or hub name"),
                                ("validation", "&Validation", "empty = split off the training data"),
                                ("test", "T&est", "empty = split off the training data"),
                                ("label_names", "Label na&mes", "optional CSV: id, name")):
            pe = PathEdit(placeholder=ph, folder=name != "label_names")
            pe.setToolTip(field_help("data", name))
            pe.committed.connect(lambda v, n=name: self._set_path(n, v))
            lab = QLabel(label)
            lab.setBuddy(pe.edit)
            ff.addRow(lab, pe)
            self.paths[name] = pe
        self.unlabelled_edit = PathEdit(placeholder="optional: texts without labels, files or folders (; between several)",
                                        multiple=True)
        self.unlabelled_edit.setToolTip(field_help("data", "unlabelled"))
        self.unlabelled_edit.committed.connect(self._set_unlabelled)
        unlabelled_label = QLabel("Unlabelled n&otes")
        unlabelled_label.setBuddy(self.unlabelled_edit.edit)
        ff.addRow(unlabelled_label, self.unlabelled_edit)
        self.sheet_edit = QLineEdit()
        self.sheet_edit.setPlaceholderText("empty = the first sheet (Excel and OpenDocument files)")
        self.sheet_edit.setToolTip(field_help("data", "sheet"))
        self.sheet_edit.editingFinished.connect(self._sheet_edited)
        sheet_label = QLabel("&Sheet")
        sheet_label.setBuddy(self.sheet_edit)
        ff.addRow(sheet_label, self.sheet_edit)
        lv.addWidget(files)

        cols = QGroupBox("Columns", left)
        cf = QFormLayout(cols)
        self.text_combo = QComboBox()
        self.label_combo = QComboBox()
        for combo, dotted, label in ((self.text_combo, "data.text_column", "Te&xt column"),
                                     (self.label_combo, "data.label_column", "&Label column")):
            combo.setToolTip(field_help("data", dotted.split(".")[1]))
            combo.activated.connect(lambda _i, c=combo, d=dotted: self._set_column(d, c))
            lab = QLabel(label)
            lab.setBuddy(combo)
            cf.addRow(lab, combo)
        self.unlabelled_combo = QComboBox()
        self.unlabelled_combo.setToolTip(field_help("data", "unlabelled_text_column"))
        self.unlabelled_combo.activated.connect(lambda _i: self._set_column("data.unlabelled_text_column", self.unlabelled_combo))
        u_lab = QLabel("Unlabelled text &column")
        u_lab.setBuddy(self.unlabelled_combo)
        cf.addRow(u_lab, self.unlabelled_combo)
        lv.addWidget(cols)

        self.split_form = ConfigForm(ctx.project, "data", fields=["validation_ratio", "test_ratio", "max_length",
                                                                  "group_by_length", "drop_cross_split_duplicates"],
                                     default_group="Splits and tokens")
        self.split_form.edited.connect(self._setting_edited)
        lv.addWidget(self.split_form)
        self.augment_form = ConfigForm(ctx.project, "data", fields=["augment_copies", "augment_p", "augment_ops"],
                                       default_group="Augmentation (training texts only)")
        self.augment_form.edited.connect(lambda _d: self.schedule_augment_preview())
        lv.addWidget(self.augment_form)
        self.project_form = ConfigForm(ctx.project, "", fields=["name", "run_dir", "seed"], default_group="Project")
        self.project_form.edited.connect(self._setting_edited)
        self.project_form.edited.connect(lambda d: d == "seed" and self.schedule_augment_preview())
        lv.addWidget(self.project_form)
        lv.addStretch(1)

        # -------- right: preview, charts, report
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.preview_status = QLabel("No data loaded.")
        self.preview_status.setWordWrap(True)
        self.reload_button = QPushButton("Reloa&d")
        self.reload_button.setToolTip("Read the data again and redo the checks")
        self.reload_button.clicked.connect(self.reload)
        bar.addWidget(self.preview_status, 1)
        bar.addWidget(self.reload_button)
        rv.addLayout(bar)

        split = QSplitter(Qt.Orientation.Vertical)
        self.tabs = QTabWidget(split)
        self.table = read_only_table(self.tabs, [])
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.setWordWrap(False)
        self.tabs.addTab(self.table, "&Rows")
        self.augment_preview = AugmentPreview()
        self.augment_preview.reshuffle.connect(self._next_augment_sample)
        self.tabs.addTab(self.augment_preview, "A&ugmentation preview")
        self.unlabelled_tab = QWidget()
        ul = QVBoxLayout(self.unlabelled_tab)
        self.unlabelled_status = QLabel("No unlabelled texts: add files or folders of texts without labels under Data files "
                                        "to distil with them (the teacher labels them for the student).")
        self.unlabelled_status.setWordWrap(True)
        self.unlabelled_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.unlabelled_table = read_only_table(self.unlabelled_tab, [])
        self.unlabelled_table.horizontalHeader().setStretchLastSection(False)
        self.unlabelled_table.setWordWrap(False)
        self.unlabelled_lengths = Histogram("Token lengths of the unlabelled texts", "tokens")
        self.unlabelled_note = QLabel("")
        self.unlabelled_note.setWordWrap(True)
        self.unlabelled_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        ul.addWidget(self.unlabelled_status)
        ul.addWidget(self.unlabelled_table, 3)
        ul.addWidget(self.unlabelled_note)
        ul.addWidget(self.unlabelled_lengths, 2)
        self.tabs.addTab(self.unlabelled_tab, "Unlabelled &preview")
        self.unlabelled_preview: api.UnlabelledPreview | None = None
        self.tabs.currentChanged.connect(lambda _i: self.schedule_augment_preview())
        self._augment_sample = 0
        split.addWidget(self.tabs)
        self.charts = charts = ResponsiveRow(min_each=180)  # stacked when the report column is narrow
        self.class_chart = BarChart("Examples per class and split", "examples")
        self.length_chart = Histogram("Token lengths of the training texts", "tokens")
        charts.add(self.class_chart)
        charts.add(self.length_chart)
        split.addWidget(charts)
        report = QWidget()
        rl = QVBoxLayout(report)
        rl.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warnings = QLabel("")
        self.warnings.setObjectName("warningText")
        self.warnings.setWordWrap(True)
        self.warnings.hide()
        self.length_note = QLabel("")
        self.baseline_note = QLabel("")  # the training plan and the classical baseline's scores on these splits
        self.baseline_note.setWordWrap(True)
        self.baseline_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.length_note.setWordWrap(True)
        rl.addWidget(self.summary)
        rl.addWidget(self.length_note)
        rl.addWidget(self.baseline_note)
        rl.addWidget(self.warnings)
        split.setStretchFactor(0, 1)  # rows / augmentation preview
        split.setStretchFactor(1, 1)  # charts
        split.setSizes([1, 1])  # start half and half
        rv.addWidget(split, 1)
        rv.addWidget(report)

        self.body_layout.addWidget(settings_and_panel(left, right, scroll_panel=False))

        self._analysis_timer = QTimer(self)
        self._analysis_timer.setSingleShot(True)
        self._analysis_timer.setInterval(600)  # settle rapid edits (spin boxes) into one analysis
        self._analysis_timer.timeout.connect(self.run_analysis)
        self._augment_timer = QTimer(self)
        self._augment_timer.setSingleShot(True)
        self._augment_timer.setInterval(250)  # one preview after a burst of edits
        self._augment_timer.timeout.connect(self.run_augment_preview)
        ctx.tasks.busy_changed.connect(self._tasks_busy)

    # ---------------------------------------------------------- page API
    def forms(self) -> list[ConfigForm]:
        return [self.split_form, self.augment_form, self.project_form]

    def pending_work(self) -> bool:
        return self._analysis_timer.isActive() or self._augment_timer.isActive()

    def status_text(self) -> str:
        if self.analysis is not None:
            return f"{sum(sum(c.values()) for c in self.analysis.report.counts.values())} texts"
        return "" if self.project.config.data.train else "choose data"

    def on_project_loaded(self) -> None:
        d = self.project.config.data
        base = self.project.config.base_dir
        for name, pe in self.paths.items():
            pe.base_dir = base
            pe.setText(getattr(d, name))
        self.unlabelled_edit.base_dir = base
        self.unlabelled_edit.setPaths(d.unlabelled)
        self.sheet_edit.setText(d.sheet)
        for form in self.forms():
            form.refresh()
        self.preview_data = self.analysis = None
        self._show_preview(None)
        self._augment_sample = 0
        self.augment_preview.show_message("Load training data to preview augmentation.")
        self._show_analysis(None)
        self._stale_preview = self._stale_analysis = True

    def on_shown(self) -> None:
        if self._stale_preview:
            self.load_preview()
        elif self._stale_analysis:
            self.schedule_analysis()

    def reload(self) -> None:
        self._stale_analysis = True
        self.load_preview()

    # ------------------------------------------------------------ editing
    def _set_path(self, name: str, value: str) -> None:
        try:
            self.project.set(f"data.{name}", value)
        except Exception as exc:  # ConfigError: show it, keep the old value
            errors.show_exception(self.ctx.window, "Invalid data setting", exc)
            self.paths[name].setText(getattr(self.project.config.data, name))
            return
        if name == "train":
            self.load_preview()
        else:
            self.schedule_analysis()
        self.ctx.window.refresh_steps()

    def _set_unlabelled(self, _text: str) -> None:
        paths = self.unlabelled_edit.paths()
        try:
            self.project.set("data.unlabelled", paths)
        except Exception as exc:  # ConfigError (a run folder among them): show it, keep the old value
            errors.show_exception(self.ctx.window, "Invalid data setting", exc)
            self.unlabelled_edit.setPaths(self.project.config.data.unlabelled)
            return
        self.load_unlabelled_preview()
        self.schedule_analysis()
        self.ctx.window.refresh_steps()

    def _sheet_edited(self) -> None:
        value = self.sheet_edit.text().strip()
        if value != self.project.config.data.sheet:
            self.project.set("data.sheet", value)
            self.reload()

    def _set_column(self, dotted: str, combo: QComboBox) -> None:
        value = combo.currentData() or ""
        try:
            self.project.set(dotted, value)
        except Exception as exc:
            errors.show_exception(self.ctx.window, "Invalid column", exc)
            return
        if dotted in ("data.unlabelled_text_column", "data.text_column"):
            self.load_unlabelled_preview()
        self.schedule_analysis()
        self.schedule_augment_preview()

    def _setting_edited(self, dotted: str) -> None:
        if dotted == "data.max_length":
            self._update_lengths()
        else:
            self.schedule_analysis()

    def on_base_model_changed(self) -> None:
        self._stale_analysis = True

    # ------------------------------------------------------------ preview
    def load_preview(self) -> None:
        cfg = self.project.config
        self._stale_preview = False
        if not cfg.data.train:
            self.preview_status.setText("Choose a training data file, folder or hub dataset.")
            self._show_preview(None)
            return
        self.preview_status.setText(f"Reading {cfg.data.train} …")
        # nothing of the previous file stays on screen while this one is read (its report, error or examples)
        self.analysis = None
        self._show_analysis(None)
        self.summary.setText(f"Reading {Path(cfg.data.train).name} …")
        self.augment_preview.show_message("Reading the training data …")
        self.ctx.tasks.submit("data-preview", api.preview_data, cfg.data.train, cfg.base_dir, sheet=cfg.data.sheet,
                              on_done=self._preview_done, on_error=self._preview_failed)

    def _preview_done(self, data: api.DataPreview) -> None:
        self.preview_data = data
        self._show_preview(data)
        self.load_unlabelled_preview()  # after the training file: its text column is the unlabelled files' default
        self.schedule_analysis(now=True)
        self.schedule_augment_preview()

    def _preview_failed(self, message: str, details: str) -> None:
        # Inline like the data check's problems, not a dialog: both follow every edit of the data settings.
        self.preview_data = None
        self._show_preview(None)
        self.analysis = None
        self._show_analysis(None)
        self.preview_status.setText("Could not read the data.")
        self.summary.setText("The data cannot be read:")
        self.warnings.setText(message)
        self.warnings.show()
        self.augment_preview.show_message("No examples: the training data could not be read.")
        errors.log_error("Cannot read the data", message, details)

    def _show_preview(self, data: api.DataPreview | None) -> None:
        cols = data.columns if data else []
        rows = data.rows if data else []
        fill_table(self.table, cols, rows)
        if cols:
            self.preview_status.setText(f"{data.n_rows} rows, {len(cols)} columns – showing the first {len(rows)}."
                                        + (f"\nRead as: {data.format}." if data.format else ""))
        detected = data.detected if data else ("", "")
        fill_column_combo(self.text_combo, cols, self.project.config.data.text_column, detected[0])
        fill_column_combo(self.label_combo, cols, self.project.config.data.label_column, detected[1])

    # ------------------------------------------------ unlabelled texts
    def load_unlabelled_preview(self) -> None:
        cfg = self.project.config
        if not cfg.data.unlabelled:
            self.unlabelled_preview = None
            self._show_unlabelled(None)
            return
        self.unlabelled_status.setText(f"Reading {cfg.data.unlabelled[0]} …")
        prefer = self.project.config.data.text_column or (self.preview_data.detected[0] if self.preview_data else "")
        self.ctx.tasks.submit("data-unlabelled-preview", api.preview_unlabelled, list(cfg.data.unlabelled), cfg.base_dir,
                              text_column_name=cfg.data.unlabelled_text_column, prefer=prefer, sheet=cfg.data.sheet,
                              exclude=str(cfg.run_path), on_done=self._unlabelled_done, on_error=self._unlabelled_failed)

    def _unlabelled_done(self, data: api.UnlabelledPreview) -> None:
        self.unlabelled_preview = data
        self._show_unlabelled(data)

    def _unlabelled_failed(self, message: str, details: str) -> None:
        # inline, like the data check: the Data step is read again after every edit
        self.unlabelled_preview = None
        self._show_unlabelled(None)
        self.unlabelled_status.setText("Cannot read the unlabelled texts: " + message)
        if details:
            errors.log_error("Unlabelled preview failed", message, details)

    def _show_unlabelled(self, data: api.UnlabelledPreview | None) -> None:
        fill_table(self.unlabelled_table, data.columns if data else [], data.rows if data else [])
        if data is None:
            if not self.project.config.data.unlabelled:
                self.unlabelled_status.setText("No unlabelled texts: add files or folders of texts without labels under "
                                               "Data files to distil with them (the teacher labels them for the student).")
        else:
            n = len(self.project.config.data.unlabelled)
            self.unlabelled_status.setText(
                f"{data.source}: {data.n_rows} rows, showing the first {len(data.rows)}; read as: {data.format}. "
                + (f"Texts from column <b>{data.text_column}</b>." if data.text_column else data.message)
                + (f" ({n} entries in all; the check below reads every one.)" if n > 1 else ""))
        columns = data.columns if data else []
        current = self.project.config.data.unlabelled_text_column
        fill_column_combo(self.unlabelled_combo, columns, current, data.text_column if data else "")

    # ------------------------------------------------ augmentation preview
    def preview_texts(self) -> list[str]:
        """The training texts of the preview rows (text column as chosen, else as detected)."""
        data = self.preview_data
        if not data:
            return []
        column = self.project.config.data.text_column or data.detected[0]
        if column not in data.columns:
            return []
        j = data.columns.index(column)
        return [str(row[j]) for row in data.rows if row[j] is not None and str(row[j]).strip()]

    def schedule_augment_preview(self) -> None:
        if self.tabs.currentWidget() is self.augment_preview:  # only worth doing when someone looks
            self._augment_timer.start()

    def _next_augment_sample(self) -> None:
        self._augment_sample += 1
        self.run_augment_preview()

    def run_augment_preview(self) -> None:
        self._augment_timer.stop()
        d = self.project.config.data
        texts = self.preview_texts()
        if not texts:
            self.augment_preview.show_message("Load training data (and pick its text column) to preview augmentation.")
            return
        if not d.augment_ops:
            self.augment_preview.show_message("No augmentation operation is chosen.")
            return
        seed = self.project.config.seed + self._augment_sample
        self.ctx.tasks.submit("data-augment-preview", api.augment_preview, texts, n=AUGMENT_PREVIEW, seed=seed,
                              p=d.augment_p, ops=list(d.augment_ops), on_done=self._augment_preview_done,
                              on_error=lambda msg, _det: self.augment_preview.show_message("Preview failed: " + msg))

    def _augment_preview_done(self, pairs: list) -> None:
        d = self.project.config.data
        how = (f"operations {', '.join(d.augment_ops)}, change probability {d.augment_p:g}; negations, "
               "measurements and clinical phrases are never changed or split. Validation and test texts are never augmented.")
        if d.augment_copies > 0:
            note = f"Each training text gets {d.augment_copies} augmented cop{'y' if d.augment_copies == 1 else 'ies'} like these ({how})"
        else:
            note = f"Augmentation is off (Augmented copies = 0). With it on, copies would look like these ({how})"
        self.augment_preview.show_pairs(pairs, note)

    # ----------------------------------------------------------- analysis
    def schedule_analysis(self, now: bool = False) -> None:
        self._stale_analysis = True
        if not self.isVisible() and not now:
            return
        if now:
            self._analysis_timer.stop()
            self.run_analysis()
        else:
            self._analysis_timer.start()

    def run_analysis(self) -> None:
        cfg = self.project.config
        if not cfg.data.train or self.preview_data is None:
            return
        self._stale_analysis = False
        self.summary.setText("Checking the data (splitting, counting classes, measuring token lengths)…")
        self.ctx.tasks.submit("data-analysis", api.analyse_data, copy.deepcopy(cfg.data), cfg.seed, cfg.base_dir,
                              cfg.teacher.base_model, run_dir=str(cfg.run_path), on_done=self._analysis_done,
                              on_error=self._analysis_failed)

    def _analysis_done(self, data: api.DataAnalysis) -> None:
        self.analysis = data
        self._show_analysis(data)
        self.ctx.window.refresh_steps()
        # The classical baseline takes seconds more (it fits 3 models): its own task, so the report shows at once.
        self.ctx.tasks.submit("data-classical", api.classical_preview, self.project.snapshot(),
                              on_done=self._classical_done,
                              on_error=lambda m, _d: self._show_baseline(None, "classical baseline: " + m.splitlines()[0]))

    def _classical_done(self, result: api.ClassicalResult) -> None:
        self._show_baseline(result)

    def _show_baseline(self, result: api.ClassicalResult | None, error: str = "") -> None:
        lines = []
        if self.analysis is not None:
            c = self.project.config
            n = sum(self.analysis.report.counts.get("train", {}).values()) * (1 + c.data.augment_copies)
            u = self.analysis.report.unlabelled
            lines.append(f"Teacher: {api.plan_training(c.teacher, n).summary()}; student: "
                         f"{api.student_plan(c.distill, n, u.used if u else 0).max_steps} steps"
                         + (" (with the unlabelled texts)." if u else "."))
        if result is not None:
            val, test = result.metrics.get("validation", {}), result.metrics.get("test", {})
            lines.append("Classical baseline (TF-IDF + logistic regression, trained in "
                         f"{result.train_seconds:.0f} s): macro-F1 validation "
                         f"{api.format_score(val.get('macro_f1'), val.get('macro_f1_ci'))}, test "
                         f"{api.format_score(test.get('macro_f1'), test.get('macro_f1_ci'))}. "
                         "A transformer is worth its cost only where it beats this clearly.")
        elif error:
            lines.append(error)
        else:
            lines.append("Fitting the classical baseline (TF-IDF + logistic regression)…")
        self.baseline_note.setText("<br>".join(lines))

    def _analysis_failed(self, message: str, details: str) -> None:
        # Shown inline, not as a dialog: the check runs by itself after every edit.
        self.analysis = None
        self._show_analysis(None)
        self.summary.setText("The data cannot be used as it is:")
        self.warnings.setText(message + (f"\n{details.splitlines()[-1]}" if details else ""))
        self.warnings.show()
        if details:
            errors.log_error("Data check failed", message, details)

    def _show_analysis(self, data: api.DataAnalysis | None) -> None:
        if not data:
            self.class_chart.clear_data()
            self.length_chart.set_values([])
            self.length_chart.set_marker(None)
            self.length_note.setText("")
            self.baseline_note.setText("")
            self.summary.setText("")
            self.warnings.hide()
            self._show_unlabelled_analysis(None)
            return
        self._show_baseline(None)
        rep = data.report
        splits = [s for s in ("train", "validation", "test") if s in rep.counts]
        self.class_chart.set_data(rep.label_names, {s: [rep.counts[s].get(n, 0) for n in rep.label_names] for s in splits})
        totals = ", ".join(f"{s} {sum(rep.counts[s].values())}" for s in splits)
        lines = [f"<b>{len(rep.label_names)} classes</b> (text column <i>{rep.text_column}</i>, label column "
                 f"<i>{rep.label_column}</i>): {totals}."]
        for split, reasons in rep.dropped.items():
            for reason, n in reasons.items():
                if n:
                    lines.append(f"Dropped from {split}: {n} row(s) ({reason}).")
        if rep.unlabelled is not None:
            lines.append(unlabelled_summary(rep.unlabelled))
        self.summary.setText("<br>".join(lines))
        warn = list(rep.warnings)
        if data.tokenizer_error:
            warn.append(f"token lengths not measured: {data.tokenizer_error}")
        self.warnings.setText("\n".join(f"⚠ {w}" for w in warn))
        self.warnings.setVisible(bool(warn))
        self.length_chart.set_marker(self.project.config.data.max_length)
        self.length_chart.set_values(data.lengths)
        self._update_lengths()

    def _show_unlabelled_analysis(self, data: api.DataAnalysis | None) -> None:
        u = data.report.unlabelled if data else None
        self.unlabelled_lengths.set_marker(self.project.config.data.max_length if u else None)
        self.unlabelled_lengths.set_values(data.unlabelled_lengths if u else [])
        if u is None:
            self.unlabelled_note.setText("")
            return
        note = unlabelled_summary(u)
        if data.unlabelled_lengths:
            lengths = np.asarray(data.unlabelled_lengths)
            note += (f" Token lengths: median {np.median(lengths):.0f}, 95th percentile {np.percentile(lengths, 95):.0f}; "
                     f"<b>{float((lengths > self.project.config.data.max_length).mean()):.1%}</b> longer than max tokens.")
        self.unlabelled_note.setText(note)

    def _update_lengths(self) -> None:
        max_len = self.project.config.data.max_length
        self.length_chart.set_marker(max_len)
        self._show_unlabelled_analysis(self.analysis)
        if self.analysis is not None and len(self.analysis.lengths):
            lengths = np.asarray(self.analysis.lengths)
            self.length_chart.set_values(lengths)
            share = float((lengths > max_len).mean())
            self.length_note.setText(f"Token lengths: median {np.median(lengths):.0f}, 95th percentile "
                                     f"{np.percentile(lengths, 95):.0f}, longest {lengths.max()}; "
                                     f"<b>{share:.1%}</b> of the training texts are longer than max tokens "
                                     f"({max_len}) and will be truncated.")
        else:
            self.length_note.setText("")

    def _tasks_busy(self, key: str, busy: bool) -> None:
        if key.startswith("data-"):
            self.reload_button.setEnabled(not busy)
