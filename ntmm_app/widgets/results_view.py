"""Per-variant progress and the variant comparison (Optimize and Benchmark pages)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ntmm_engine import api
from ntmm_engine.core.events import Evaluation, Event, JobFinished, LogMessage, Progress

from .. import desktop, errors
from .charts import BarChart
from .frozen_column import FrozenColumn
from .metrics_view import number_item, read_only_table, score_item, text_item
from .pareto import FrontierPoint, ParetoChart
from .responsive_row import ResponsiveRow


@dataclass
class ResultRow:
    """One line of the comparison table, built from an engine result row by :func:`parity_row` or
    :func:`benchmark_row` (the table shows exactly these fields)."""

    name: str
    macro_f1: float | None = None
    macro_f1_ci: list[float] | None = None
    agreement: float | None = None
    latency_ms_median: float | None = None
    latency_ms_p95: float | None = None
    throughput_per_s: float | None = None
    size_mb: float | None = None
    parameters_m: float | None = None
    peak_rss_mb: float | None = None
    latency_spread: float | None = None
    speedup_vs_teacher: float | None = None
    compression_vs_teacher: float | None = None
    ece_raw: float | None = None  # test split, before temperature scaling
    ece: float | None = None      # test split, as predictors return the probabilities
    flagged: bool = False
    recommended: bool = False
    note: str = ""


# (header, ResultRow field, format)
COLUMNS: list[tuple[str, str, str]] = [
    ("Macro-F1", "macro_f1", ".4f"),
    ("Agreement vs fp32 student", "agreement", ".2%"),
    ("p50 ms", "latency_ms_median", ".2f"),
    ("p95 ms", "latency_ms_p95", ".2f"),
    ("Spread", "latency_spread", ".0%"),
    ("Samples/s", "throughput_per_s", ".1f"),
    ("Size MB", "size_mb", ".2f"),
    ("Params M", "parameters_m", ".1f"),
    ("Peak RSS MB", "peak_rss_mb", ".0f"),
    ("Speed-up vs teacher", "speedup_vs_teacher", ".2f"),
    ("Compression vs teacher", "compression_vs_teacher", ".2f"),
    ("ECE before", "ece_raw", ".3f"),
    ("ECE after", "ece", ".3f"),
]
RATIOS = {"speedup_vs_teacher", "compression_vs_teacher"}  # shown as "3.2x"
FLAG_BRUSH = QBrush(QColor(255, 224, 178))
RECOMMENDED_BRUSH = QBrush(QColor(214, 240, 214))


def _mb(n: int | None) -> float | None:
    return n / 1e6 if isinstance(n, (int, float)) else None


def _status_note(status: str, message: str, notes: list[str] = ()) -> str:
    if status not in ("ok", "flagged"):
        return f"{status}: {message}".strip().rstrip(":")
    return "; ".join(map(str, notes))


def _ece(c: api.Calibration | None) -> tuple[float | None, float | None]:
    raw, cal = (c.scores("test", False), c.scores("test", True)) if c is not None else (None, None)
    return (raw.ece if raw else None), (cal.ece if cal else None)


def parity_row(p: api.VariantParity, name: str | None = None) -> ResultRow:
    """An optimize variant (or the fp32 reference, or the classical baseline) as a table row."""
    flagged = p.flagged or p.status == "flagged"
    note = "⚠ low agreement" if flagged else _status_note(p.status, p.message)
    if p.difference and not flagged:
        note = "; ".join(x for x in (note, f"vs fp32: {api.format_difference(p.difference)}") if x)
    ece_raw, ece = _ece(p.calibration)
    return ResultRow(name=name or p.variant, macro_f1=p.macro_f1, macro_f1_ci=p.metrics.get("macro_f1_ci"),
                     agreement=p.agreement, size_mb=_mb(p.size_bytes), parameters_m=_mb(p.parameters), ece_raw=ece_raw, ece=ece, flagged=flagged, note=note)


def benchmark_row(b: api.VariantBenchmark, flagged: bool = False, recommended: bool = False) -> ResultRow:
    """A benchmarked variant as a table row; ``flagged``: optimize flagged it; ``recommended``: the budget's choice."""
    note = "⚠ low agreement" if flagged else _status_note(b.status, b.message, b.notes)
    if len(b.speedup_vs_teacher_range) == 2 and None not in b.speedup_vs_teacher_range and b.variant != api.TEACHER:
        note = "; ".join(x for x in (note, f"speed-up {b.speedup_vs_teacher_range[0]:.1f}–{b.speedup_vs_teacher_range[1]:.1f}x "
                                           "over the rounds") if x)
    if recommended:
        note = "; ".join(x for x in ("★ recommended", note) if x)
    return ResultRow(name=b.variant, macro_f1=b.macro_f1, macro_f1_ci=b.macro_f1_ci or None, agreement=b.agreement,
                     latency_ms_median=b.latency_ms_median,
                     latency_ms_p95=b.latency_ms_p95, throughput_per_s=b.throughput_per_s, size_mb=_mb(b.size_bytes),
                     parameters_m=_mb(b.parameters), peak_rss_mb=_mb(b.peak_rss_bytes),
                     latency_spread=b.latency_spread, speedup_vs_teacher=b.speedup_vs_teacher,
                     compression_vs_teacher=b.compression_vs_teacher, ece_raw=_ece(b.calibration)[0], ece=_ece(b.calibration)[1],
                     flagged=flagged, recommended=recommended, note=note)


class VariantProgress(QWidget):
    """One row per variant with a status and a progress bar, driven by Progress events."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.table = read_only_table(self, ["Variant", "Progress", "Status"])
        self.table.setMaximumHeight(170)
        lay.addWidget(self.table)
        # messages about the whole job ("Benchmarking a, b, c…", "Timings unreliable…", "Recommended: …") go here,
        # not into the Status cell of whichever variant they happen to name
        self.general = QLabel()
        self.general.setObjectName("hint")
        self.general.setWordWrap(True)
        self.general.hide()
        lay.addWidget(self.general)
        self.rows: dict[str, int] = {}
        self.current: str | None = None

    def set_variants(self, names: list[str], shown: Callable[[str], str] = str) -> None:
        """One row per name (what the job's events say); ``shown`` gives the name a row shows."""
        self.setVisible(bool(names))
        self.table.setRowCount(len(names))
        self.rows = {}
        self.current = None
        self.general.clear()
        self.general.hide()
        for i, n in enumerate(names):
            self.table.setItem(i, 0, text_item(shown(n)))
            bar = QProgressBar()
            bar.setRange(0, 1)
            bar.setValue(0)
            self.table.setCellWidget(i, 1, bar)
            self.table.setItem(i, 2, text_item("waiting"))
            self.rows[n] = i

    def _match(self, text: str) -> str | None:
        for name in sorted(self.rows, key=len, reverse=True):  # "onnx_int8" before "onnx"
            if name in text:
                return name
        return None

    def _subject(self, text: str) -> str | None:
        """The variant a log line is about: the engine starts those with the name ("student_onnx: 3.2 MB…",
        "x failed: …"); a line that only mentions variants on the way is about the job."""
        for name in sorted(self.rows, key=len, reverse=True):
            if text.startswith((f"{name}:", f"{name} ")):
                return name
        return None

    def handle_event(self, ev: Event) -> None:
        if isinstance(ev, Progress):
            name = self._match(f"{ev.phase} {ev.message}")
            if name is None:
                return
            if self.current and self.current != name:
                self._set(self.current, status="done", done=1, total=1)
            self.current = name
            self._set(name, status=ev.message or ev.phase, done=ev.done, total=ev.total)
        elif isinstance(ev, Evaluation) and ev.split.startswith(("parity_", "benchmark_")):
            name = self._match(ev.split.split("_", 1)[1])
            if name:
                self._set(name, status="flagged" if ev.metrics.get("flagged") else "done", done=1, total=1)
                if self.current == name:
                    self.current = None
        elif isinstance(ev, LogMessage):
            line = ev.text.splitlines()[0] if ev.text else ""
            name = self._subject(line)
            if name:
                self._set(name, status=line[:120])
            elif line:
                self.general.setText(line)
                self.general.setVisible(True)
        elif isinstance(ev, JobFinished):
            for name in self.rows:
                bar = self.table.cellWidget(self.rows[name], 1)
                if ev.status == "completed":
                    self._set(name, status="done", done=1, total=1)
                elif bar.value() < bar.maximum():
                    self._set(name, status=ev.status)

    def _set(self, name: str, status: str | None = None, done: int | None = None, total: int | None = None) -> None:
        i = self.rows[name]
        if status is not None:
            self.table.setItem(i, 2, text_item(status))
        if done is not None and total is not None:
            bar = self.table.cellWidget(i, 1)
            bar.setRange(0, max(total, 1))
            bar.setValue(min(done, max(total, 1)))


class ResultsView(QWidget):
    """Comparison table + latency and size bar charts, Open folder and Export report."""

    def __init__(self, folder: Callable[[], Path | None], report: Callable[[], Path | None],
                 title: str = "NTMM results", parent: QWidget | None = None, frontier: bool = False) -> None:
        super().__init__(parent)
        self._folder, self._report, self.title = folder, report, title
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.note = QLabel("No results yet.")
        self.note.setWordWrap(True)
        lay.addWidget(self.note)
        split = QSplitter(Qt.Orientation.Vertical)
        self.table: QTableWidget = read_only_table(self, ["Variant"] + [c[0] for c in COLUMNS] + ["Notes"])
        self.table.setSortingEnabled(True)
        tips = {"p50 ms": "Median latency at batch 1 (the median of the rounds' medians)", "p95 ms": "95th-percentile latency at batch 1",
                "Spread": "How much the rounds' medians vary (interquartile range / median): steady timings stay small",
                "Samples/s": "Throughput at the throughput batch size",
                "Speed-up vs teacher": "Median latency of the fp32 teacher / this one's (2.0x: twice as fast)",
                "Compression vs teacher": "Size on disk of the fp32 teacher / this one's (4.0x: a quarter of the size)",
                "Agreement vs fp32 student": "Share of test texts labelled like the fp32 student (the reference of every variant)",
                "Params M": "Parameters, in millions", "Peak RSS MB": "Peak memory of a process that loads the model and predicts",
                "ECE before": "Expected calibration error on the test split (15 bins) of the raw softmax",
                "ECE after": "Expected calibration error on the test split after temperature scaling: what predictions show"}
        for j in range(self.table.columnCount()):
            item = self.table.horizontalHeaderItem(j)
            if item is not None and item.text() in tips:
                item.setToolTip(tips[item.text()])
        self.frozen = FrozenColumn(self.table)  # the variant names stay in view when the table scrolls sideways
        split.addWidget(self.table)
        charts = ResponsiveRow(min_each=230)  # three charts side by side, stacked where the panel is narrow
        self.f1_chart = BarChart("Test macro-F1 (bars: 95 % interval)", "macro-F1 (higher is better)")
        self.latency_chart = BarChart("Latency, batch 1", "ms (lower is better)")
        self.size_chart = BarChart("Size on disk", "MB (lower is better)")
        for chart in (self.f1_chart, self.latency_chart, self.size_chart):
            charts.add(chart)
        self.pareto: ParetoChart | None = None
        if frontier:  # the benchmark: the frontier first, the bars one tab away
            self.chart_tabs = QTabWidget()
            self.pareto = ParetoChart()
            self.chart_tabs.addTab(self.pareto, "&Frontier")
            self.chart_tabs.addTab(charts, "B&ars")
            split.addWidget(self.chart_tabs)
        else:
            split.addWidget(charts)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        lay.addWidget(split, 1)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("&Open folder")
        self.open_button.clicked.connect(self.open_folder)
        self.export_button = QPushButton("E&xport report…")
        self.export_button.clicked.connect(self.export_report)
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.export_button)
        lay.addLayout(buttons)
        self.rows: list[ResultRow] = []
        self.update_buttons()

    def show_rows(self, rows: list[ResultRow], note: str = "", unreliable: bool = False) -> None:
        self.rows = list(rows)
        self.note.setText(note or ("No results yet." if not rows else ""))
        self.note.setVisible(bool(self.note.text()))
        t = self.table
        t.setSortingEnabled(False)
        t.setRowCount(len(rows))
        flagged = [r.flagged for r in rows]
        for i, r in enumerate(rows):
            t.setItem(i, 0, text_item(r.name))
            for j, (_h, attr, spec) in enumerate(COLUMNS, start=1):
                item = (score_item(r.macro_f1, r.macro_f1_ci) if attr == "macro_f1" else number_item(getattr(r, attr), spec))
                if attr in RATIOS and getattr(r, attr) is not None:
                    item.setData(Qt.ItemDataRole.DisplayRole, f"{getattr(r, attr):{spec}}x")  # still sorts by the number
                t.setItem(i, j, item)
            note_item = text_item(r.note)
            note_item.setToolTip(r.note)
            t.setItem(i, len(COLUMNS) + 1, note_item)
            if flagged[i]:
                for j in range(t.columnCount()):
                    t.item(i, j).setBackground(FLAG_BRUSH)
                    t.item(i, j).setToolTip("Flagged: its predictions agree less with the fp32 student than the threshold.")
            elif r.recommended:
                for j in range(t.columnCount()):
                    t.item(i, j).setBackground(RECOMMENDED_BRUSH)
                    t.item(i, j).setToolTip("Recommended: the most accurate variant within the budget (or the fastest, when none is).")
        for j, (_h, attr, _s) in enumerate(COLUMNS, start=1):
            t.setColumnHidden(j, bool(rows) and all(getattr(r, attr) is None for r in rows))
        t.setColumnHidden(len(COLUMNS) + 1, not any(r.note for r in rows))
        t.setSortingEnabled(True)
        self.frozen.sync()
        names = [r.name for r in rows]
        p50 = [r.latency_ms_median for r in rows]
        p95 = [r.latency_ms_p95 for r in rows]
        size = [r.size_mb for r in rows]
        lat_names, lat_flags = names, flagged
        if any(v is None for v in p50 + p95):  # failed rows: leave them out of the latency chart
            keep = [i for i in range(len(rows)) if p50[i] is not None]
            lat_names, lat_flags = [names[i] for i in keep], [flagged[i] for i in keep]
            p50, p95 = [p50[i] for i in keep], [p95[i] for i in keep]
        lat_series = {k: v for k, v in (("p50", p50), ("p95", p95)) if any(x is not None for x in v)}
        self.latency_chart.set_data(lat_names if lat_series else [], lat_series, highlight=lat_flags)
        self.latency_chart.plot.set_title("Latency, batch 1" + (" — timings unreliable" if unreliable else ""),
                                          color="#d62728" if unreliable else None)
        self.latency_chart.setVisible(bool(lat_series))
        f1 = [r.macro_f1 for r in rows]
        has_f1 = any(x is not None for x in f1)
        self.f1_chart.set_data(names if has_f1 else [], {"macro-F1": f1} if has_f1 else {}, highlight=flagged,
                               intervals={"macro-F1": [r.macro_f1_ci for r in rows]} if has_f1 else None)
        self.f1_chart.setVisible(has_f1)
        has_size = any(x is not None for x in size)
        self.size_chart.set_data(names if has_size else [], {"size": size} if has_size else {}, highlight=flagged)
        self.size_chart.setVisible(has_size)
        if self.pareto is not None:
            self.pareto.set_points([FrontierPoint(r.name, r.latency_ms_median, r.macro_f1, r.macro_f1_ci, r.size_mb) for r in rows
                                    if r.latency_ms_median is not None and r.macro_f1 is not None],
                                   recommended=next((r.name for r in rows if r.recommended), ""), unreliable=unreliable)
        self.update_buttons()

    def update_buttons(self) -> None:
        folder = self._folder()
        report = self._report()
        self.open_button.setEnabled(bool(folder and folder.is_dir()))
        self.export_button.setEnabled(bool(report and report.is_file()) or bool(self.rows))

    def rows_markdown(self) -> str:
        """The table as shown, in Markdown (for stages that write no report of their own)."""
        cols = [c for c in COLUMNS if any(getattr(r, c[1]) is not None for r in self.rows)]
        lines = ["| Variant | " + " | ".join(h for h, _a, _s in cols) + " | Notes |",
                 "|---|" + "---:|" * len(cols) + "---|"]
        for r in self.rows:
            cells = [(score_item(r.macro_f1, r.macro_f1_ci) if attr == "macro_f1" else number_item(getattr(r, attr), spec)).text()
                     for _h, attr, spec in cols]
            lines.append(f"| {r.name} | " + " | ".join(cells) + f" | {r.note} |")
        return "\n".join(lines) + "\n"

    def open_folder(self) -> None:
        folder = self._folder()
        if folder and folder.is_dir():
            desktop.reveal(self, folder, "run folder")

    def export_report(self) -> None:
        report = self._report()
        has_file = bool(report and report.is_file())
        if not has_file and not self.rows:
            return
        from ..settings import current
        s = current()
        name = report.name if has_file else "report.md"
        start = str(Path(s.last_folder("reports")) / name) if s else name
        path, _ = QFileDialog.getSaveFileName(self, "Export report", start, "Markdown (*.md);;All files (*)")
        if not path:
            return
        try:
            text = report.read_text(encoding="utf-8") if has_file else "# " + self.title + "\n\n" + self.rows_markdown()
            Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:
            errors.show_error(self, "Cannot export the report", f"Cannot write {path}: {exc.strerror or exc}")
            return
        if s:
            s.set_last_folder("reports", path)
