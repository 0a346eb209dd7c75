"""Predict step: try any model on typed text or a whole file; compare two models."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ntmm_engine import api

from .. import errors
from ..widgets.metrics_view import number_item, read_only_table, text_item
from .base import AppContext, StepPage

DEBOUNCE_MS = 300
TEXT_FILTER = "Texts (*.csv *.tsv *.txt *.jsonl *.ndjson *.json);;All files (*)"


# ------------------------------------------------------- worker functions
def predict_texts(predictor: api.Predictor, texts: list[str], on_progress=None) -> list[api.Prediction]:
    return predictor.predict(texts, batch_size=32, on_progress=on_progress)


def read_texts(path: str, column: str = "", model_column: str | None = None) -> dict[str, Any]:
    """Texts of a CSV/TSV, TXT (one per line), JSON or JSONL file, plus the file's columns for the column
    chooser (worker thread). The column: ``column`` if chosen, else the model's training column if the file
    has it, else the one the engine detects, as ``ntmm predict --file`` does."""
    columns, detected = api.texts_file_columns(path, prefer=model_column)
    used = column if column in columns else (detected or "")
    return {"texts": api.read_texts_file(path, used or None), "column": used, "columns": columns}


class ModelSlot(QGroupBox):
    """Choose and load one model (project variant, folder or ONNX file)."""

    loaded = Signal()

    def __init__(self, page: "PredictPage", title: str, key: str) -> None:
        super().__init__(title)
        self.page, self.key = page, key
        self.predictor: Any = None
        self.path: str = ""
        lay = QGridLayout(self)
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(24)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setToolTip("A model of this project, or one you opened")
        self.folder_button = QPushButton("Folder…")
        self.folder_button.setToolTip("Open a model folder (save_pretrained, safetensors)")
        self.onnx_button = QPushButton("ONNX file…")
        self.onnx_button.setToolTip("Open an .onnx model exported by NTMM")
        self.status = QLabel("No model loaded.")
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        lay.addWidget(self.combo, 0, 0)
        lay.addWidget(self.folder_button, 0, 1)
        lay.addWidget(self.onnx_button, 0, 2)
        lay.addWidget(self.status, 1, 0, 1, 3)
        lay.setColumnStretch(0, 1)
        self.combo.activated.connect(lambda _i: self.load(self.combo.currentData()))
        self.folder_button.clicked.connect(self.browse_folder)
        self.onnx_button.clicked.connect(self.browse_onnx)

    def fill(self, candidates: dict[str, Path], select: str | None) -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        for name, path in candidates.items():
            self.combo.addItem(f"{name}  –  {path.parent.name}/{path.name}", str(path))
        if self.path and self.combo.findData(self.path) < 0:
            self.combo.addItem(self.path, self.path)
        idx = self.combo.findData(select or self.path)
        self.combo.setCurrentIndex(max(idx, 0) if self.combo.count() else -1)
        self.combo.blockSignals(False)

    def browse_folder(self) -> None:
        s = self.page.ctx.settings
        path = QFileDialog.getExistingDirectory(self, "Open a model folder", s.last_folder("models"))
        if path:
            s.set_last_folder("models", path)
            self.add_and_load(path)

    def browse_onnx(self) -> None:
        s = self.page.ctx.settings
        path, _ = QFileDialog.getOpenFileName(self, "Open an ONNX model", s.last_folder("models"), "ONNX (*.onnx)")
        if path:
            s.set_last_folder("models", path)
            self.add_and_load(path)

    def add_and_load(self, path: str) -> None:
        if self.combo.findData(path) < 0:
            self.combo.addItem(path, path)
        self.combo.setCurrentIndex(self.combo.findData(path))
        self.load(path)

    def load(self, path: str | None) -> None:
        if not path:
            return
        self.path = path
        self.predictor = None
        self.status.setText(f"Loading {path} …")
        self.page.ctx.tasks.submit(f"predict-load-{self.key}", api.load_predictor, path,
                                   on_done=self._loaded, on_error=self._failed)

    def _loaded(self, predictor: Any) -> None:
        self.predictor = predictor
        names = list(getattr(predictor, "label_names", []) or [])
        self.status.setText(f"Loaded {self.path} ({len(names)} classes)")
        self.loaded.emit()

    def _failed(self, message: str, details: str) -> None:
        self.predictor = None
        self.status.setText("Could not load the model.")
        errors.show_error(self.page.ctx.window, "Cannot load the model", message, details)


class ProbabilityView(QWidget):
    """The predicted label and one bar per class."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel(title)
        self.title.setObjectName("hint")
        self.label = QLabel("–")
        self.label.setObjectName("predictedLabel")
        self.label.setWordWrap(True)
        self.grid = QGridLayout()
        lay.addWidget(self.title)
        lay.addWidget(self.label)
        lay.addLayout(self.grid)
        lay.addStretch(1)
        self.bars: dict[str, tuple[QLabel, QProgressBar]] = {}

    def clear(self, message: str = "–") -> None:
        self.label.setText(message)
        for _lab, bar in self.bars.values():
            bar.setValue(0)

    def show_prediction(self, label: str, probs: dict[str, float]) -> None:
        if list(self.bars) != list(probs):
            while self.grid.count():
                w = self.grid.takeAt(0).widget()
                if w is not None:
                    w.deleteLater()
            self.bars = {}
            for i, name in enumerate(probs):
                lab = QLabel(name)
                bar = QProgressBar()
                bar.setRange(0, 1000)
                bar.setFormat("%p%")
                bar.setTextVisible(True)
                self.grid.addWidget(lab, i, 0)
                self.grid.addWidget(bar, i, 1)
                self.bars[name] = (lab, bar)
            self.grid.setColumnStretch(1, 1)
        top = probs.get(label)
        self.label.setText(f"{label}" + (f"  ({top:.1%})" if isinstance(top, float) else ""))
        for name, p in probs.items():
            lab, bar = self.bars[name]
            bar.setValue(int(round(float(p) * 1000)))
            bar.setFormat(f"{float(p):.1%}")
            lab.setProperty("top", name == label)
            lab.setStyleSheet("font-weight: bold;" if name == label else "")


class PredictPage(StepPage):
    key = "predict"
    title = "Predict"
    description = ("Try a model: type a note and see the predicted class with the probability of each class, "
                   "or classify a whole file and save the predictions as CSV.")
    blocks_body = False

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        top = QHBoxLayout()
        self.slot_a = ModelSlot(self, "&Model", "a")
        self.slot_b = ModelSlot(self, "Second model", "b")
        self.slot_b.hide()
        self.compare = QCheckBox("Com&pare with a second model")
        top.addWidget(self.slot_a, 1)
        top.addWidget(self.slot_b, 1)
        self.body_layout.addLayout(top)
        self.body_layout.addWidget(self.compare)

        self.tabs = QTabWidget()
        # ---- typed text
        typed = QWidget()
        tl = QHBoxLayout(typed)
        split = QSplitter(Qt.Orientation.Horizontal)
        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("Type or paste a note, e.g. “67 yo male c/o crushing chest pain radiating to the jaw, "
                                     "diaphoretic, ECG shows ST elevation.”")
        split.addWidget(self.text)
        probs = QWidget()
        pl = QHBoxLayout(probs)
        self.view_a = ProbabilityView("Model")
        self.view_b = ProbabilityView("Second model")
        self.view_b.hide()
        pl.addWidget(self.view_a)
        pl.addWidget(self.view_b)
        split.addWidget(probs)
        split.setSizes([500, 500])
        tl.addWidget(split)
        self.tabs.addTab(typed, "&Type text")
        # ---- batch
        batch = QWidget()
        bl = QVBoxLayout(batch)
        row = QHBoxLayout()
        self.open_file = QPushButton("&Open file…")
        self.open_file.setToolTip("A CSV/TSV/JSON/JSONL file (its text column) or a TXT file with one text per line")
        self.save_csv = QPushButton("Save &CSV…")
        self.save_csv.setEnabled(False)
        self.batch_status = QLabel("")
        self.batch_progress = QProgressBar()
        self.batch_progress.setRange(0, 1)
        self.batch_progress.setValue(0)
        self.column_combo = QComboBox()
        self.column_combo.setToolTip("The column that holds the texts (detected when the file is read)")
        self.column_combo.setEnabled(False)
        self.column_combo.setMinimumContentsLength(12)
        self.column_combo.activated.connect(self._column_chosen)
        column_label = QLabel("Te&xt column")
        column_label.setBuddy(self.column_combo)
        self.batch_path = ""
        row.addWidget(self.open_file)
        row.addWidget(column_label)
        row.addWidget(self.column_combo)
        row.addWidget(self.batch_progress, 1)
        row.addWidget(self.save_csv)
        bl.addLayout(row)
        bl.addWidget(self.batch_status)
        self.batch_table = read_only_table(self, ["Text", "Label", "Confidence"])
        self.batch_table.setSortingEnabled(True)
        bl.addWidget(self.batch_table, 1)
        self.tabs.addTab(batch, "Batch f&ile")
        self.body_layout.addWidget(self.tabs, 1)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.predict_now)
        self.text.textChanged.connect(self._timer.start)
        self.compare.toggled.connect(self._compare_toggled)
        self.slot_a.loaded.connect(self.predict_now)
        self.slot_b.loaded.connect(self.predict_now)
        self.open_file.clicked.connect(self.choose_batch_file)
        self.save_csv.clicked.connect(self.save_batch)
        self.batch_texts: list[str] = []
        self.batch_results: dict[str, list[Any]] = {}
        self._needs_model_refresh = True

    # ----------------------------------------------------------- page API
    def needs(self) -> str:
        if not self.project.state().models() and self.slot_a.predictor is None and not self.slot_a.path:
            return "No model in this project yet: train the teacher (or open a model folder or ONNX file below)."
        return ""

    def pending_work(self) -> bool:
        return self._timer.isActive()

    def status_text(self) -> str:
        best = self.project.state().default_model() if self.project.is_open else None
        return best[0] if best else ""

    def on_project_loaded(self) -> None:
        self.slot_a.predictor = self.slot_b.predictor = None
        self.slot_a.path = self.slot_b.path = ""
        self.slot_a.status.setText("No model loaded.")
        self.view_a.clear()
        self.view_b.clear()
        self._needs_model_refresh = True
        if self.isVisible():
            self.on_shown()

    def on_run_changed(self) -> None:
        self._needs_model_refresh = True

    def on_shown(self) -> None:
        if not self._needs_model_refresh:
            return
        self._needs_model_refresh = False
        state = self.project.state()
        found = state.models()
        best = state.default_model()
        select = str(best[1]) if best and not self.slot_a.path else None
        self.slot_a.fill(found, select)
        self.slot_b.fill(found, None)
        if select and (self.slot_a.predictor is None or self.slot_a.path != select):
            self.slot_a.load(select)
        self.refresh_state()

    def _compare_toggled(self, on: bool) -> None:
        self.slot_b.setVisible(on)
        self.view_b.setVisible(on)
        if on and self.slot_b.predictor is None and self.slot_b.combo.count():
            self.slot_b.load(self.slot_b.combo.currentData())
        self.predict_now()

    def slots(self) -> list[ModelSlot]:
        return [self.slot_a] + ([self.slot_b] if self.compare.isChecked() else [])

    # -------------------------------------------------------- typed text
    def predict_now(self) -> None:
        text = self.text.toPlainText().strip()
        for slot, view in ((self.slot_a, self.view_a), (self.slot_b, self.view_b)):
            if slot not in self.slots():
                continue
            view.title.setText(Path(slot.path).name if slot.path else "")
            if not text or slot.predictor is None:
                view.clear("–" if slot.predictor is not None else "Load a model to see predictions.")
                continue
            self.ctx.tasks.submit(f"predict-text-{slot.key}", predict_texts, slot.predictor, [text],
                                  on_done=lambda preds, v=view: self._show_text(v, preds),
                                  on_error=lambda m, d: errors.show_error(self.ctx.window, "Prediction failed", m, d))

    def _show_text(self, view: ProbabilityView, preds: list[api.Prediction]) -> None:
        if preds:
            view.show_prediction(preds[0].label, preds[0].probabilities)

    # --------------------------------------------------------------- batch
    def choose_batch_file(self) -> None:
        s = self.ctx.settings
        path, _ = QFileDialog.getOpenFileName(self, "Texts to classify", s.last_folder("data"), TEXT_FILTER)
        if path:
            s.set_last_folder("data", path)
            self.predict_file(path)

    def predict_file(self, path: str, column: str = "") -> None:
        if self.slot_a.predictor is None:
            errors.show_error(self.ctx.window, "No model", "Load a model first.")
            return
        self.batch_path = path
        self.batch_status.setText(f"Reading {path} …")
        self.save_csv.setEnabled(False)
        self.ctx.tasks.submit("predict-read", read_texts, path, column, self.slot_a.predictor.text_column,
                              on_done=self._texts_read,
                              on_error=lambda m, d: (self.batch_status.setText("Could not read the file."),
                                                     errors.show_error(self.ctx.window, "Cannot read the file", m, d)))

    def _column_chosen(self, _index: int) -> None:
        column = self.column_combo.currentText()
        if self.batch_path and column:
            self.predict_file(self.batch_path, column)

    def _texts_read(self, data: dict[str, Any]) -> None:
        self.column_combo.clear()
        self.column_combo.addItems(data.get("columns") or [])
        self.column_combo.setCurrentText(data["column"])
        self.column_combo.setEnabled(bool(data.get("columns")))
        self.batch_texts = data["texts"]
        self.batch_results = {}
        col = f" (column {data['column']})" if data["column"] else ""
        self.batch_status.setText(f"Classifying {len(self.batch_texts)} texts{col} …")
        self.batch_progress.setRange(0, max(len(self.batch_texts), 1))
        self.batch_progress.setValue(0)
        for slot in self.slots():
            if slot.predictor is None:
                continue
            self.ctx.tasks.submit(f"predict-batch-{slot.key}", predict_texts, slot.predictor, self.batch_texts,
                                  on_done=lambda preds, k=slot.key: self._batch_done(k, preds),
                                  on_error=lambda m, d: errors.show_error(self.ctx.window, "Prediction failed", m, d),
                                  on_progress=self._batch_progress)

    def _batch_progress(self, done: int, total: int) -> None:
        self.batch_progress.setRange(0, max(total, 1))
        self.batch_progress.setValue(min(done, max(total, 1)))

    def _batch_done(self, key: str, preds: list[api.Prediction]) -> None:
        self.batch_results[key] = preds
        wanted = [s.key for s in self.slots() if s.predictor is not None]
        if any(k not in self.batch_results for k in wanted):
            return
        self.batch_progress.setValue(self.batch_progress.maximum())
        keys = [k for k in ("a", "b") if k in self.batch_results]
        cols = ["Text"]
        for k in keys:
            suffix = "" if len(keys) == 1 else (" (model)" if k == "a" else " (second)")
            cols += [f"Label{suffix}", f"Confidence{suffix}"]
        if len(keys) == 2:
            cols.append("Agree")
        t = self.batch_table
        t.setSortingEnabled(False)
        t.clear()
        t.setColumnCount(len(cols))
        t.setHorizontalHeaderLabels(cols)
        t.setRowCount(len(self.batch_texts))
        agree = 0
        for i, text in enumerate(self.batch_texts):
            t.setItem(i, 0, text_item(text if len(text) < 160 else text[:159] + "…"))
            t.item(i, 0).setToolTip(text[:2000])
            labels = []
            for j, k in enumerate(keys):
                pred = self.batch_results[k][i]
                label, probs = pred.label, pred.probabilities
                labels.append(label)
                t.setItem(i, 1 + 2 * j, text_item(label))
                t.setItem(i, 2 + 2 * j, number_item(probs.get(label), ".1%"))
            if len(keys) == 2:
                same = labels[0] == labels[1]
                agree += same
                t.setItem(i, len(cols) - 1, text_item("yes" if same else "NO"))
        t.setSortingEnabled(True)
        column = self.column_combo.currentText() if self.column_combo.isEnabled() else ""
        msg = f"{len(self.batch_texts)} texts" + (f" (column {column})" if column else "") + " classified."
        if len(keys) == 2 and self.batch_texts:
            msg += f" The two models agree on {agree / len(self.batch_texts):.1%}."
        self.batch_status.setText(msg)
        self.save_csv.setEnabled(True)

    def save_batch(self) -> None:
        if not self.batch_results:
            return
        s = self.ctx.settings
        path, _ = QFileDialog.getSaveFileName(self, "Save predictions", str(Path(s.last_folder("data")) / "predictions.csv"),
                                              "CSV (*.csv)")
        if path:
            s.set_last_folder("data", path)
            try:
                self.write_csv(path)
            except OSError as exc:
                errors.show_error(self.ctx.window, "Cannot save", f"Cannot write {path}: {exc.strerror or exc}")

    def write_csv(self, path: str) -> None:
        keys = [k for k in ("a", "b") if k in self.batch_results]
        first = self.batch_results[keys[0]]
        class_names = list(first[0].probabilities) if first else []
        header = ["text"]
        for k in keys:
            pre = "" if k == "a" else "second_"
            header += [f"{pre}label", f"{pre}confidence"] + [f"{pre}p_{c}" for c in class_names]
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for i, text in enumerate(self.batch_texts):
                row: list[Any] = [text]
                for k in keys:
                    pred = self.batch_results[k][i]
                    label, probs = pred.label, pred.probabilities
                    row += [label, f"{probs.get(label, 0.0):.6f}"] + [f"{probs.get(c, 0.0):.6f}" for c in class_names]
                w.writerow(row)
