"""Predict step: try any model on typed text or a whole file; compare two models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ntmm_engine import api
from ntmm_engine.core.errors import NTMMError

from .. import desktop, errors
from ..widgets.confidence_control import ConfidenceControl
from ..widgets.elided_label import ElidedLabel
from ..widgets.explanation_view import ExplanationView
from ..widgets.metrics_view import number_item, read_only_table, text_item
from .base import AppContext, StepPage

DEBOUNCE_MS = 300
TEXT_FILTER = ("Texts and tables (*.csv *.tsv *.txt *.jsonl *.ndjson *.json *.xlsx *.xlsm *.xls *.ods *.gz *.bz2 *.zip);;"
               "All files (*)")
SAVE_FILTERS = {"CSV (*.csv)": ".csv", "Excel (*.xlsx)": ".xlsx", "JSON Lines (*.jsonl)": ".jsonl"}
UNCERTAIN_COLOR = "#b35900"
RUNNERS_UP = 2  # classes after the predicted one whose words the Predict step lists
UNCERTAIN_BACKGROUND = "#ffe0b2"


# ------------------------------------------------------- worker functions
def predict_texts(predictor: api.Predictor, texts: list[str], on_progress=None) -> list[api.Prediction]:
    return predictor.predict(texts, batch_size=32, on_progress=on_progress)


def read_texts(path: str, column: str = "", model_column: str | None = None, sheet: str = "") -> dict[str, Any]:
    """The rows of a file to classify (worker thread), with its columns for the column chooser, its sheets
    and how it was read. The column: ``column`` if chosen, else the model's training column if the file
    has it, else the one the engine detects, as ``ntmm predict --file`` does."""
    try:
        f = api.open_texts_file(path, column or None, prefer=model_column, sheet=sheet)
    except NTMMError as exc:
        sheets = api.file_sheets(path)
        if len(sheets) < 2:
            raise
        return {"error": str(exc), "sheets": sheets, "sheet": sheet or sheets[0]}  # another sheet may hold the texts
    rows = list(f.rows)
    index = [i for i, r in enumerate(rows) if api.row_text(r, f.text_column)]
    return {"rows": rows, "texts": [api.row_text(rows[i], f.text_column) for i in index], "index": index,
            "columns": [] if f.plain else f.columns, "row_columns": f.columns, "column": "" if f.plain else f.text_column,
            "format": f.format, "sheets": f.sheets}


def score_batch(rows: list[dict[str, Any]], preds: list[Any], columns: list[str], column: str,
                label_names: list[str]) -> Any:
    """Accuracy and macro-F1 against a column holding the model's classes, if the file has one."""
    return api.score_rows(rows, preds, columns, column, label_names) if column else None


class ModelSlot(QGroupBox):
    """Choose and load one model (project variant, folder or ONNX file)."""

    loaded = Signal()

    def __init__(self, page: "PredictPage", title: str, key: str) -> None:
        super().__init__(title)
        self.page, self.key = page, key
        self.predictor: Any = None
        self.path: str = ""
        self.names: dict[str, str] = {}  # model path -> its variant name (student_onnx_int8, teacher_fp32, ...)
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

    def fill(self, candidates: dict[str, Path], select: str | None, recommended: str = "") -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        self.names = {str(path): name for name, path in candidates.items()}
        for name, path in candidates.items():
            mark = "  ★ recommended" if name == recommended else ""
            self.combo.addItem(f"{name}  –  {path.parent.name}/{path.name}{mark}", str(path))
        if self.path and self.combo.findData(self.path) < 0:
            self.combo.addItem(self.path, self.path)
        idx = self.combo.findData(select or self.path)
        self.combo.setCurrentIndex(max(idx, 0) if self.combo.count() else -1)
        self.combo.blockSignals(False)

    def display_name(self) -> str:
        """The variant name of the loaded model, or its folder or file name for a model opened from elsewhere."""
        if not self.path:
            return ""
        return self.names.get(self.path) or Path(self.path).name

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
        self.probabilities: dict[str, float] = {}  # as the model returned them (the bars round to 0.1 %)

    def clear(self, message: str = "–") -> None:
        self.probabilities = {}
        self.label.setText(message)
        for _lab, bar in self.bars.values():
            bar.setValue(0)

    def show_prediction(self, label: str, probs: dict[str, float], uncertain: bool = False) -> None:
        self.probabilities = dict(probs)
        if list(self.bars) != list(probs):
            while self.grid.count():
                w = self.grid.takeAt(0).widget()
                if w is not None:
                    w.deleteLater()
            self.bars = {}
            for i, name in enumerate(probs):
                lab = ElidedLabel(name)  # long class names must not widen the page past a 1024-pixel window
                bold = QFont(lab.font())
                bold.setBold(True)  # the predicted class is shown bold: measured so, it is not elided ("cardiol…")
                width = QFontMetrics(bold).horizontalAdvance(name)
                lab.setMinimumWidth(min(width, 110))
                lab.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
                lab.setMaximumWidth(width + 4)
                bar = QProgressBar()
                bar.setMinimumWidth(60)
                bar.setRange(0, 1000)
                bar.setFormat("%p%")
                bar.setTextVisible(True)
                self.grid.addWidget(lab, i, 0)
                self.grid.addWidget(bar, i, 1)
                self.bars[name] = (lab, bar)
            self.grid.setColumnStretch(1, 1)
        top = probs.get(label)
        self.label.setText(f"{label}" + (f"  ({top:.1%})" if isinstance(top, float) else "")
                           + (f"<br><span style='color:{UNCERTAIN_COLOR}; font-size:small'>{api.UNCERTAIN}</span>"
                              if uncertain else ""))
        self.label.setToolTip(f"Below the minimum confidence: {api.UNCERTAIN}" if uncertain else "")
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
                   "or classify a whole file (CSV, Excel, JSON) and save it with the predictions added. "
                   "Export a bundle to deploy the model without NTMM.")
    blocks_body = False

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        top = QHBoxLayout()
        self.slot_a = ModelSlot(self, "&Model", "a")
        self.slot_b = ModelSlot(self, "Second model", "b")
        self.slot_b.hide()
        self.compare = QCheckBox("Com&pare with a second model")
        self.export_button = QPushButton("Export bun&dle…")
        self.export_button.setToolTip("Write a folder that runs this model with onnxruntime, tokenizers and numpy only: "
                                      "model.onnx, tokenizer.json, labels, predict.py, requirements.txt, a model card "
                                      "(as ntmm export)")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.export_bundle)
        top.addWidget(self.slot_a, 1)
        top.addWidget(self.slot_b, 1)
        self.body_layout.addLayout(top)
        options = QHBoxLayout()
        options.addWidget(self.compare)
        options.addStretch(1)
        options.addWidget(self.export_button)
        self.body_layout.addLayout(options)

        self.tabs = QTabWidget()
        # ---- typed text
        typed = QWidget()
        tl = QHBoxLayout(typed)
        split = QSplitter(Qt.Orientation.Horizontal)
        text_split = QSplitter(Qt.Orientation.Vertical)
        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("Type or paste a note, e.g. “67 yo male c/o crushing chest pain radiating to the jaw, "
                                     "diaphoretic, ECG shows ST elevation.”")
        self.explanation = ExplanationView()  # why this label: computed in the background after each prediction
        text_split.addWidget(self.text)
        text_split.addWidget(self.explanation)
        text_split.setSizes([180, 320])
        split.addWidget(text_split)
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
        self.open_file.setToolTip("A CSV/TSV/TXT, JSON/JSONL or Excel/ODS file (plain or .gz/.bz2/.zip): its text column "
                                  "is classified; or a TXT file with one text per line")
        self.save_button = QPushButton("Sa&ve results…")
        self.save_button.setToolTip("Save every input column with pred_label, pred_score and p_<class> (CSV, Excel or JSON Lines), "
                                 "the same columns as ntmm predict --out")
        self.save_button.setEnabled(False)
        self.batch_status = QLabel("")
        self.batch_status.setWordWrap(True)
        self.batch_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.batch_progress = QProgressBar()
        self.batch_progress.setRange(0, 1)
        self.batch_progress.setValue(0)
        self.sheet_combo = QComboBox()
        self.sheet_combo.setToolTip("The sheet of the workbook to classify")
        self.sheet_combo.activated.connect(self._sheet_chosen)
        self.sheet_label = QLabel("Sh&eet")
        self.sheet_label.setBuddy(self.sheet_combo)
        self.column_combo = QComboBox()
        self.column_combo.setToolTip("The column that holds the texts (detected when the file is read)")
        self.column_combo.setEnabled(False)
        self.column_combo.setMinimumContentsLength(12)
        self.column_combo.activated.connect(self._column_chosen)
        column_label = QLabel("Te&xt column")
        column_label.setBuddy(self.column_combo)
        self.batch_path = ""
        row.addWidget(self.open_file)
        row.addWidget(self.sheet_label)
        row.addWidget(self.sheet_combo)
        row.addWidget(column_label)
        row.addWidget(self.column_combo)
        row.addStretch(1)
        row.addWidget(self.save_button)
        self.show_saved_button = QPushButton("Show in &folder")
        self.show_saved_button.setToolTip("Open the folder of the file just saved")
        self.show_saved_button.hide()  # until something is saved
        self.show_saved_button.clicked.connect(lambda: desktop.reveal(self, Path(self.saved_path).parent))
        self.saved_path = ""
        row.addWidget(self.show_saved_button)
        self._show_sheets([])
        bl.addLayout(row)
        bl.addWidget(self.batch_progress)  # a line of its own: the row above fits a 1024-pixel window
        bl.addWidget(self.batch_status)
        self.batch_table = read_only_table(self, ["Text", "Label", "Confidence"])
        self.batch_table.setSortingEnabled(True)
        bl.addWidget(self.batch_table, 1)
        self.tabs.addTab(batch, "Batch f&ile")
        self.confidence = ConfidenceControl()
        self.confidence.setMinimumWidth(300)
        self.confidence.setMaximumWidth(400)
        self.main_split = main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(self.tabs)
        main.addWidget(self.confidence)
        main.setStretchFactor(0, 1)
        main.setChildrenCollapsible(False)
        self.body_layout.addWidget(main, 1)
        self.confidence.changed.connect(self._min_confidence_changed)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.predict_now)
        self.text.textChanged.connect(self._timer.start)
        self.compare.toggled.connect(self._compare_toggled)
        self.slot_a.loaded.connect(self._model_a_loaded)
        self.slot_a.loaded.connect(lambda: self.export_button.setEnabled(True))
        self.slot_b.loaded.connect(self._model_b_loaded)
        self.open_file.clicked.connect(self.choose_batch_file)
        self.save_button.clicked.connect(self.save_batch)
        self.batch: dict[str, Any] = {}  # what read_texts returned for the file shown
        self.batch_texts: list[str] = []
        self.batch_results: dict[str, list[Any]] = {}
        self._needs_model_refresh = True
        self._explained_for: tuple[int, str] | None = None  # (model, text) of the explanation shown

    # ----------------------------------------------------------- page API
    SIDE_BY_SIDE = 1000  # narrower than this (a 1024-pixel window): "Not sure?" goes under the tabs

    def fit_width(self, width: int) -> None:
        wide = width >= self.SIDE_BY_SIDE
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if self.main_split.orientation() != orientation:
            self.main_split.setOrientation(orientation)
            self.confidence.setMaximumWidth(400 if wide else 16777215)

    def needs(self) -> str:
        if not self.project.state().models() and self.slot_a.predictor is None and not self.slot_a.path:
            return "No model in this project yet: train the teacher (or open a model folder or ONNX file below)."
        return ""

    def pending_work(self) -> bool:
        return self._timer.isActive()

    def status_text(self) -> str:
        """The model the step works with: the one loaded now, else the one it will load."""
        if self.slot_a.path:
            return self.slot_a.display_name()
        best = self.project.state().default_model() if self.project.is_open else None
        return best[0] if best else ""

    def on_project_loaded(self) -> None:
        self.slot_a.predictor = self.slot_b.predictor = None
        self.slot_a.path = self.slot_b.path = ""
        self.slot_a.status.setText("No model loaded.")
        self.view_a.clear()
        self.view_b.clear()
        self.explanation.clear()
        self._explained_for = None
        self.confidence.set_value(self.project.config.predict.min_confidence)
        self.confidence.set_curve(None)
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
        rec = state.recommendation()
        recommended = rec.variant if rec is not None else ""
        select = str(best[1]) if best and not self.slot_a.path else None
        self.slot_a.fill(found, select, recommended)
        self.slot_b.fill(found, self._compare_default(found, select), recommended)
        if select and (self.slot_a.predictor is None or self.slot_a.path != select):
            self.slot_a.load(select)
        self.refresh_state()

    @staticmethod
    def _compare_default(found: dict[str, Path], first: str | None) -> str | None:
        """The second model Compare starts with: the teacher beside the recommended variant (the first slot),
        else the first other model; never the same model on both sides."""
        others = [str(p) for p in found.values() if str(p) != first]
        teacher = str(found[api.TEACHER]) if api.TEACHER in found else None
        return teacher if teacher in others else (others[0] if others else None)

    def use_model(self, path: str) -> None:
        """Load ``path`` (a project variant, e.g. the benchmark's recommended one) into the first model slot."""
        self._needs_model_refresh = False
        state = self.project.state()
        rec = state.recommendation()
        self.slot_a.fill(state.models(), path, rec.variant if rec is not None else "")
        self.slot_a.add_and_load(path)
        self.refresh_state()

    def _compare_toggled(self, on: bool) -> None:
        self.slot_b.setVisible(on)
        self.view_b.setVisible(on)
        if on and self.slot_b.predictor is None and self.slot_b.combo.count():
            self.slot_b.load(self.slot_b.combo.currentData())
        self.predict_now()

    def slots(self) -> list[ModelSlot]:
        return [self.slot_a] + ([self.slot_b] if self.compare.isChecked() else [])

    # ------------------------------------------------------ "not sure"
    def _model_a_loaded(self) -> None:
        predictor = self.slot_a.predictor
        predictor.min_confidence = self.confidence.value
        calibration = predictor.calibration
        name = self.slot_a.display_name()
        self.confidence.set_curve(calibration.risk_coverage if calibration is not None else None, name)
        self.ctx.window.refresh_steps()  # the step list names the model now loaded
        self.predict_now()

    def _model_b_loaded(self) -> None:
        self.slot_b.predictor.min_confidence = self.confidence.value
        self.predict_now()

    def _min_confidence_changed(self, value: float) -> None:
        """predict.min_confidence: saved with the project; typed text and the batch are marked again."""
        if self.project.is_open:
            try:
                self.project.set("predict.min_confidence", float(value))
            except NTMMError as exc:
                errors.show_error(self.ctx.window, "Invalid minimum confidence", str(exc))
                return
        for slot in (self.slot_a, self.slot_b):
            if slot.predictor is not None:
                slot.predictor.min_confidence = float(value)
                if slot.key in self.batch_results:
                    slot.predictor.mark_uncertain(self.batch_results[slot.key])
        self.predict_now()
        if self.batch_results:
            self._show_batch_table()

    # -------------------------------------------------------- typed text
    def predict_now(self) -> None:
        text = self.text.toPlainText().strip()
        for slot, view in ((self.slot_a, self.view_a), (self.slot_b, self.view_b)):
            if slot not in self.slots():
                continue
            view.title.setText(slot.display_name())
            if not text or slot.predictor is None:
                view.clear("–" if slot.predictor is not None else "Load a model to see predictions.")
                if slot is self.slot_a:
                    self.explanation.clear()
                    self._explained_for = None
                continue
            self.ctx.tasks.submit(f"predict-text-{slot.key}", predict_texts, slot.predictor, [text],
                                  on_done=lambda preds, v=view: self._show_text(v, preds),
                                  on_error=lambda m, d: errors.show_error(self.ctx.window, "Prediction failed", m, d))

    def _show_text(self, view: ProbabilityView, preds: list[api.Prediction]) -> None:
        if preds:
            view.show_prediction(preds[0].label, preds[0].probabilities, preds[0].uncertain)
        if view is self.view_a:
            self.explain_now()

    def explain_now(self) -> None:
        """The words that pushed model A's prediction, in the background (occlusion or gradients: up to a second)."""
        text = self.text.toPlainText()
        predictor = self.slot_a.predictor
        if predictor is None or not text.strip():
            self.explanation.clear()
            self._explained_for = None
            return
        if self._explained_for == (id(predictor), text):
            return  # predicted again for another reason (the minimum confidence): the words are the same
        self._explained_for = (id(predictor), text)
        self.explanation.working()
        self.ctx.tasks.submit("predict-explain-a", api.explain, predictor, text,
                              on_done=lambda e, t=text: self._explained(predictor, t, e),
                              on_error=self._explain_failed)

    def _explain_failed(self, message: str, details: str) -> None:
        self._explained_for = None
        self.explanation.clear(f"No explanation: {message}")

    def _explained(self, predictor: Any, text: str, e: api.Explanation) -> None:
        """The predicted class first (gradients: one pass per class); then the runners-up, to list their words too."""
        self.explanation.show_explanation(text, e)
        ranked = sorted(predictor.label_names, key=lambda n: -self.view_a.probabilities.get(n, 0.0))
        more = [n for n in ranked if n not in e.classes][:max(0, RUNNERS_UP + 1 - len(e.classes))]
        if more and self.text.toPlainText() == text:
            self.ctx.tasks.submit("predict-explain-a", api.explain, predictor, text, classes=more,
                                  on_done=lambda e2: self.explanation.show_explanation(text, e.merged(e2)),
                                  on_error=lambda m, d: None)  # the predicted class's words are shown already

    # --------------------------------------------------------------- batch
    def choose_batch_file(self) -> None:
        s = self.ctx.settings
        path, _ = QFileDialog.getOpenFileName(self, "Texts to classify", s.last_folder("data"), TEXT_FILTER)
        if path:
            s.set_last_folder("data", path)
            self.predict_file(path)

    def predict_file(self, path: str, column: str = "", sheet: str = "") -> None:
        if self.slot_a.predictor is None:
            errors.show_error(self.ctx.window, "No model", "Load a model first.")
            return
        if path != self.batch_path:
            self._show_sheets([])
        self.batch_path = path
        self.batch_status.setText(f"Reading {path} …")
        self.save_button.setEnabled(False)
        self.ctx.tasks.submit("predict-read", read_texts, path, column, self.slot_a.predictor.text_column, sheet,
                              on_done=self._texts_read,
                              on_error=lambda m, d: (self.batch_status.setText("Could not read the file."),
                                                     errors.show_error(self.ctx.window, "Cannot read the file", m, d)))

    def _show_sheets(self, sheets: list[str], current: str = "") -> None:
        self.sheet_combo.clear()
        self.sheet_combo.addItems(sheets)
        if current:
            self.sheet_combo.setCurrentText(current)
        for w in (self.sheet_combo, self.sheet_label):
            w.setVisible(len(sheets) > 1)

    def _sheet_chosen(self, _index: int) -> None:
        if self.batch_path:
            self.predict_file(self.batch_path, "", self.sheet_combo.currentText())

    def _column_chosen(self, _index: int) -> None:
        column = self.column_combo.currentText()
        if self.batch_path and column:
            self.predict_file(self.batch_path, column, self.sheet_combo.currentText())

    def _texts_read(self, data: dict[str, Any]) -> None:
        if "error" in data:  # this sheet holds no texts: say so, and let the user pick another
            self._show_sheets(data["sheets"], data["sheet"])
            self.batch_status.setText(f"Sheet '{data['sheet']}': {data['error']} Choose another sheet.")
            return
        self.batch = data
        sheet = data["format"].split("sheet '", 1)[1].split("'", 1)[0] if "sheet '" in data["format"] else ""
        self._show_sheets(data.get("sheets") or [], sheet)
        self.column_combo.clear()
        self.column_combo.addItems(data.get("columns") or [])
        self.column_combo.setCurrentText(data["column"])
        self.column_combo.setEnabled(bool(data.get("columns")))
        self.batch_texts = data["texts"]
        self.batch_results = {}
        col = f" (column {data['column']})" if data["column"] else ""
        self.batch_status.setText(f"Classifying {len(self.batch_texts)} texts{col} …")
        self.show_saved_button.hide()  # the last save was of other results
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
        self._show_batch_table()
        self.save_button.setEnabled(True)

    def _show_batch_table(self) -> None:
        keys = self.result_keys()
        review = self.confidence.value > 0
        per_model = 3 if review else 2
        cols = ["Text"]
        for k in keys:
            suffix = "" if len(keys) == 1 else f" ({self._slot(k).display_name()})"
            cols += [f"Label{suffix}", f"Confidence{suffix}"] + ([f"Review{suffix}"] if review else [])
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
                t.setItem(i, 1 + per_model * j, text_item(label))
                t.setItem(i, 2 + per_model * j, number_item(probs.get(label), ".1%"))
                if review:
                    item = text_item(api.UNCERTAIN if pred.uncertain else "")
                    if pred.uncertain:
                        item.setBackground(QColor(UNCERTAIN_BACKGROUND))
                        item.setToolTip(f"Confidence below the minimum {self.confidence.value:.3f}")
                    t.setItem(i, 3 + per_model * j, item)
            if len(keys) == 2:
                same = labels[0] == labels[1]
                agree += same
                t.setItem(i, len(cols) - 1, text_item("yes" if same else "NO"))
        t.setSortingEnabled(True)
        header = t.horizontalHeader()  # the labels, confidences and review marks in view; the text takes the rest
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for j in range(1, len(cols)):
            header.setSectionResizeMode(j, QHeaderView.ResizeMode.ResizeToContents)
        column = self.column_combo.currentText() if self.column_combo.isEnabled() else ""
        msg = f"{len(self.batch_texts)} texts" + (f" (column {column})" if column else "") + " classified."
        if len(keys) == 2 and self.batch_texts:
            msg += f" The two models agree on {agree / len(self.batch_texts):.1%}."
        for k in keys:  # scored against the input's own labels, when a column holds the model's classes
            slot = self.slot_a if k == "a" else self.slot_b
            score = score_batch(self.batch["rows"], self.aligned(k), self.batch["row_columns"], self.batch["column"],
                                list(slot.predictor.label_names)) if slot.predictor is not None else None
            if score is not None:
                lead = "Against" if len(keys) == 1 else ("Model against" if k == "a" else "Second model against")
                msg += (f" {lead} column '{score.column}' ({score.rows} rows): accuracy {score.accuracy:.1%}, "
                        f"macro-F1 {score.macro_f1:.3f}.")
        if review:
            for k in keys:
                n = sum(p.uncertain for p in self.batch_results[k])
                who = "" if len(keys) == 1 else f" ({self._slot(k).display_name()})"
                msg += f" {n} marked “{api.UNCERTAIN}”{who}, below confidence {self.confidence.value:.3f}."
        msg += f" Read as {self.batch['format']}."
        self.batch_status.setText(msg)

    def _slot(self, key: str) -> ModelSlot:
        return self.slot_a if key == "a" else self.slot_b

    def result_keys(self) -> list[str]:
        return [k for k in ("a", "b") if k in self.batch_results]

    def aligned(self, key: str) -> list[Any]:
        """Model ``key``'s predictions, one per row of the file (None for a row without a text)."""
        out: list[Any] = [None] * len(self.batch["rows"])
        for i, pred in zip(self.batch["index"], self.batch_results[key]):
            out[i] = pred
        return out

    def save_batch(self) -> None:
        if not self.batch_results:
            return
        s = self.ctx.settings
        stem = Path(self.batch_path).name.split(".")[0] if self.batch_path else "texts"
        start = str(Path(s.last_folder("predictions", s.last_folder("data"))) / f"{stem}-predictions.csv")
        path, chosen = QFileDialog.getSaveFileName(self, "Save predictions", start, ";;".join(SAVE_FILTERS))
        if not path:
            return
        if Path(path).suffix.lower() not in SAVE_FILTERS.values():
            path += SAVE_FILTERS.get(chosen, ".csv")
        s.set_last_folder("predictions", path)
        try:
            n = self.write_results(path)
        except NTMMError as exc:
            errors.show_error(self.ctx.window, "Cannot save the predictions", str(exc))
            return
        # confirmed where the user looks, with the path and a button to its folder (no modal box to dismiss)
        self.saved_path = path
        self.batch_status.setText(f"Saved {n} rows with predictions to {path}. Every column of the file is kept; "
                                  "pred_label, pred_score and p_<class> follow (pred_label_2… for the second model).")
        self.show_saved_button.show()

    def write_results(self, path: str) -> int:
        """Every row of the file with each model's predictions, through the engine's writer (as ntmm predict --out)."""
        keys = self.result_keys()
        names = list(self.slot_a.predictor.label_names) if self.slot_a.predictor is not None else \
            list(self.batch_results[keys[0]][0].probabilities)
        extra = api.output_extras(self.slot_a.predictor) if self.slot_a.predictor is not None else []
        with api.PredictionWriter(path, names, self.batch["row_columns"], models=len(keys), extra=extra) as w:
            w.write(self.batch["rows"], *[self.aligned(k) for k in keys])
        return w.count

    # -------------------------------------------------------------- bundle
    def export_bundle(self) -> None:
        model = self.slot_a.path
        if not model:
            return
        s = self.ctx.settings
        folder = QFileDialog.getExistingDirectory(self, "Export a deployable bundle into (an empty or new folder)",
                                                  s.last_folder("bundles", s.last_folder("models")))
        if not folder:
            return
        s.set_last_folder("bundles", folder)
        target = Path(folder)
        if target.is_dir() and any(target.iterdir()) and not (target / "ntmm_bundle.json").is_file():
            target = target / f"{Path(model).name}-bundle"  # a folder with other things: the bundle goes inside
        self.export_button.setEnabled(False)
        self.slot_a.status.setText(f"Exporting the bundle of {model} to {target} …")
        self.ctx.tasks.submit("predict-export-bundle", api.export_bundle, model, str(target),
                              on_done=self._bundle_done, on_error=self._bundle_failed)

    def _bundle_done(self, result: api.BundleResult) -> None:
        self.export_button.setEnabled(True)
        self.slot_a.status.setText(f"Bundle written to {result.folder}")
        QMessageBox.information(self, "Bundle exported", result.summary_text())

    def _bundle_failed(self, message: str, details: str) -> None:
        self.export_button.setEnabled(True)
        self.slot_a.status.setText("The bundle was not written.")
        errors.show_error(self.ctx.window, "Cannot export the bundle", message, details)
