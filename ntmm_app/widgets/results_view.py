"""Per-variant progress and the variant comparison (Optimize and Benchmark pages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QBrush, QColor, QDesktopServices
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSplitter, QTableWidget,
                               QVBoxLayout, QWidget)

from ntmm_engine.events import Evaluation, Event, JobFinished, LogMessage, Progress

from .. import errors
from ..runinfo import pick
from .charts import BarChart
from .metrics_view import number_item, read_only_table, text_item

# (header, candidate keys, format)
COLUMNS: list[tuple[str, tuple[str, ...], str]] = [
    ("Macro-F1", ("macro_f1", "metrics.macro_f1", "parity.macro_f1"), ".4f"),
    ("Agreement", ("agreement", "parity.agreement"), ".2%"),
    ("p50 ms", ("latency_ms_median", "p50_ms"), ".2f"),
    ("p95 ms", ("latency_ms_p95", "p95_ms"), ".2f"),
    ("Samples/s", ("throughput_per_s", "throughput"), ".1f"),
    ("Size MB", ("size_mb",), ".2f"),
    ("Speed-up", ("speedup_vs_teacher", "speedup"), ".2f"),
    ("Compression", ("compression_vs_teacher", "compression"), ".2f"),
]
FLAG_KEYS = ("flagged", "parity.flagged")
FLAG_BRUSH = QBrush(QColor(255, 224, 178))


def row_name(row: dict[str, Any]) -> str:
    return str(pick(row, "variant", "name", "model", default="?"))


def row_flagged(row: dict[str, Any]) -> bool:
    return bool(pick(row, *FLAG_KEYS, default=False)) or row.get("status") == "flagged"


def row_note(row: dict[str, Any]) -> str:
    status = row.get("status")
    if row_flagged(row):
        return "⚠ low agreement"
    if status and status not in ("ok", "flagged"):
        return f"{status}: {row.get('message', '')}".strip()
    notes = row.get("notes") or []
    return "; ".join(map(str, notes))


def normalise(row: dict[str, Any]) -> dict[str, Any]:
    """Derived display values (MB from bytes)."""
    row = dict(row)
    if row.get("size_mb") is None and isinstance(row.get("size_bytes"), (int, float)):
        row["size_mb"] = row["size_bytes"] / 1e6
    return row


class VariantProgress(QWidget):
    """One row per variant with a status and a progress bar, driven by Progress events."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.table = read_only_table(self, ["Variant", "Progress", "Status"])
        self.table.setMaximumHeight(170)
        lay.addWidget(self.table)
        self.rows: dict[str, int] = {}
        self.current: str | None = None

    def set_variants(self, names: list[str]) -> None:
        self.setVisible(bool(names))
        self.table.setRowCount(len(names))
        self.rows = {}
        self.current = None
        for i, n in enumerate(names):
            self.table.setItem(i, 0, text_item(n))
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
            name = self._match(ev.text)
            if name:
                self._set(name, status=ev.text.splitlines()[0][:120])
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
                 title: str = "NTMM results", parent: QWidget | None = None) -> None:
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
        tips = {"p50 ms": "Median latency at batch 1", "p95 ms": "95th-percentile latency at batch 1",
                "Samples/s": "Throughput at the throughput batch size", "Speed-up": "Median latency of the teacher / this one",
                "Compression": "Size of the teacher / this one", "Agreement": "Share of test texts labelled like the reference"}
        for j in range(self.table.columnCount()):
            item = self.table.horizontalHeaderItem(j)
            if item is not None and item.text() in tips:
                item.setToolTip(tips[item.text()])
        split.addWidget(self.table)
        charts = QWidget()
        ch = QHBoxLayout(charts)
        ch.setContentsMargins(0, 0, 0, 0)
        self.latency_chart = BarChart("Latency, batch 1", "ms (lower is better)")
        self.size_chart = BarChart("Size on disk", "MB (lower is better)")
        ch.addWidget(self.latency_chart)
        ch.addWidget(self.size_chart)
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
        self.rows: list[dict[str, Any]] = []
        self.update_buttons()

    def show_rows(self, rows: list[dict[str, Any]], note: str = "") -> None:
        rows = [normalise(r) for r in rows]
        self.rows = rows
        self.note.setText(note or ("No results yet." if not rows else ""))
        self.note.setVisible(bool(self.note.text()))
        t = self.table
        t.setSortingEnabled(False)
        t.setRowCount(len(rows))
        flagged = [row_flagged(r) for r in rows]
        for i, r in enumerate(rows):
            t.setItem(i, 0, text_item(row_name(r)))
            for j, (_h, keys, spec) in enumerate(COLUMNS, start=1):
                t.setItem(i, j, number_item(pick(r, *keys), spec))
            note_item = text_item(row_note(r))
            note_item.setToolTip(row_note(r))
            t.setItem(i, len(COLUMNS) + 1, note_item)
            if flagged[i]:
                for j in range(t.columnCount()):
                    t.item(i, j).setBackground(FLAG_BRUSH)
                    t.item(i, j).setToolTip("Flagged: its predictions agree less with the fp32 student than the threshold.")
        for j, (_h, keys, _s) in enumerate(COLUMNS, start=1):
            t.setColumnHidden(j, bool(rows) and all(pick(r, *keys) is None for r in rows))
        t.setColumnHidden(len(COLUMNS) + 1, not any(row_note(r) for r in rows))
        t.setSortingEnabled(True)
        names = [row_name(r) for r in rows]
        p50 = [pick(r, *COLUMNS[2][1]) for r in rows]
        p95 = [pick(r, *COLUMNS[3][1]) for r in rows]
        size = [pick(r, *COLUMNS[5][1]) for r in rows]
        lat_names, lat_flags = names, flagged
        if any(v is None for v in p50 + p95):  # failed rows: leave them out of the latency chart
            keep = [i for i in range(len(rows)) if p50[i] is not None]
            lat_names, lat_flags = [names[i] for i in keep], [flagged[i] for i in keep]
            p50, p95 = [p50[i] for i in keep], [p95[i] for i in keep]
        lat_series = {k: v for k, v in (("p50", p50), ("p95", p95)) if any(x is not None for x in v)}
        self.latency_chart.set_data(lat_names if lat_series else [], lat_series, highlight=lat_flags)
        self.latency_chart.setVisible(bool(lat_series))
        has_size = any(x is not None for x in size)
        self.size_chart.set_data(names if has_size else [], {"size": size} if has_size else {}, highlight=flagged)
        self.size_chart.setVisible(has_size)
        self.update_buttons()

    def update_buttons(self) -> None:
        folder = self._folder()
        report = self._report()
        self.open_button.setEnabled(bool(folder and folder.is_dir()))
        self.export_button.setEnabled(bool(report and report.is_file()) or bool(self.rows))

    def rows_markdown(self) -> str:
        """The table as shown, in Markdown (for stages that write no report of their own)."""
        cols = [c for c in COLUMNS if any(pick(r, *c[1]) is not None for r in self.rows)]
        lines = ["| Variant | " + " | ".join(h for h, _k, _s in cols) + " | Notes |",
                 "|---|" + "---:|" * len(cols) + "---|"]
        for r in self.rows:
            cells = [number_item(pick(r, *keys), spec).text() for _h, keys, spec in cols]
            lines.append(f"| {row_name(r)} | " + " | ".join(cells) + f" | {row_note(r)} |")
        return "\n".join(lines) + "\n"

    def open_folder(self) -> None:
        folder = self._folder()
        if folder and folder.is_dir():
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

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
