"""Forms built from the config dataclasses' field metadata.

Each field gets a widget from its type (check box, combo box, spin box or
line edit), its help text as tooltip, and is placed in a group box by its
``group``; ``advanced`` fields go into a collapsed "Advanced" section. Edits
are validated at once through :meth:`Project.set_text` / :meth:`Project.set`:
a rejected value is marked red with the reason under the field, and the
config keeps its last valid value.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ntmm_engine.core.config import ProjectConfig
from ntmm_engine.core.errors import ConfigError

from ..project import Project
from .path_edit import PathEdit

INT_MAX = 2**31 - 1
LABEL_OVERRIDES = {
    "lr_scheduler": "LR schedule", "adam_beta1": "Adam β1", "adam_beta2": "Adam β2", "adam_epsilon": "Adam ε",
    "max_length": "Max tokens", "run_dir": "Run folder", "num_layers": "Layers kept", "opset": "ONNX opset",
    "per_channel": "Per-channel INT8", "temperature": "Temperature (T)", "alpha": "Alpha (α)",
    "mse_weight": "MSE weight", "eval_batch_size": "Eval batch size", "trust_remote_code": "Trust remote code",
    "num_samples": "Timed samples", "throughput_batch_size": "Throughput batch", "fresh_heads": "Fresh heads",
    "gradient_accumulation_steps": "Accumulation steps", "early_stopping_patience": "Patience",
    "early_stopping_metric": "Watched metric", "early_stopping_threshold": "Min. improvement",
    "drop_cross_split_duplicates": "Drop cross-split duplicates", "augment_copies": "Augmented copies",
    "augment_p": "Change probability", "augment_ops": "Operations", "report_to": "Report to",
    "budget_max_latency_ms": "Max latency (ms)", "budget_min_macro_f1": "Min macro-F1", "budget_max_size_mb": "Max size (MB)",
    "budget_max_peak_ram_mb": "Max peak RAM (MB)", "time_budget_s": "Time budget (s)", "max_spread": "Max round spread",
    "static_dim": "Vector width", "static_hidden": "Hidden units", "static_epochs": "Most epochs", "static_max_length": "Tokens read", "fuse": "Fuse graph (ORT)",
}


def humanize(name: str) -> str:
    return LABEL_OVERRIDES.get(name) or name.replace("_", " ").capitalize()


def section_fields(section: str) -> list[dataclasses.Field]:
    """Editable leaf fields of a config section ("" = the top level)."""
    proto = ProjectConfig()
    obj = getattr(proto, section) if section else proto
    return [f for f in dataclasses.fields(obj)
            if not f.metadata.get("internal") and not dataclasses.is_dataclass(getattr(obj, f.name))]


def field_tooltip(f: dataclasses.Field) -> str:
    m = f.metadata
    parts = [m.get("help", "")]
    if m.get("choices"):
        parts.append("Choices: " + ", ".join(map(str, m["choices"])))
    lo, hi = m.get("min"), m.get("max")
    if lo is not None or hi is not None:
        left = "(" if m.get("min_exclusive") else "["
        right = ")" if m.get("max_exclusive") else "]"
        parts.append(f"Allowed: {left}{lo:g}, {hi:g}{right}" if lo is not None and hi is not None else "")
    return "\n".join(p for p in parts if p)


class FieldEditor(QWidget):
    """One field: the input widget plus an error line below it."""

    def __init__(self, form: "ConfigForm", dotted: str, f: dataclasses.Field, tp: Any) -> None:
        super().__init__(form)
        self.form, self.dotted, self.field, self.tp = form, dotted, f, tp
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.input = self._make_input()
        self.input.setToolTip(field_tooltip(f))
        self._row = QHBoxLayout()
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.addWidget(self.input, 1)
        lay.addLayout(self._row)
        self.error = QLabel(self)
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.hide()
        lay.addWidget(self.error)
        self.setFocusProxy(self.input)

    def add_trailing(self, widget: QWidget) -> None:
        """Put a helper widget (e.g. a "Find…" button) to the right of the input."""
        self._row.addWidget(widget)

    # ------------------------------------------------------------ widgets
    def _make_input(self) -> QWidget:
        m, tp = self.field.metadata, self.tp
        if tp is bool:
            w = QCheckBox(self)
            w.toggled.connect(lambda v: self.commit(bool(v)))
            return w
        if m.get("choices"):
            w = QComboBox(self)
            w.addItems([str(c) for c in m["choices"]])
            w.currentTextChanged.connect(lambda v: self.commit(v))
            return w
        hi = m.get("max")
        if tp is int and (hi is None or hi <= INT_MAX):
            w = QSpinBox(self)
            lo = m.get("min")
            lo = -INT_MAX if lo is None else int(lo) + (1 if m.get("min_exclusive") else 0)
            w.setRange(lo, INT_MAX if hi is None else int(hi) - (1 if m.get("max_exclusive") else 0))
            w.setKeyboardTracking(False)
            w.setAccelerated(True)
            w.valueChanged.connect(lambda v: self.commit(int(v)))
            return w
        if m.get("path"):
            is_file = self.field.name in ("train", "validation", "test", "label_names")
            w = PathEdit(file=is_file, folder=True, folder_kind="data" if is_file else "models", parent=self)
            w.committed.connect(lambda v: self.commit_text(v))
            return w
        w = QLineEdit(self)
        w.textEdited.connect(self.commit_text)
        return w

    def set_value(self, value: Any) -> None:
        w = self.input
        w.blockSignals(True)
        try:
            if isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, QComboBox):
                w.setCurrentText(str(value))
            elif isinstance(w, QSpinBox):
                w.setValue(int(value))
            elif isinstance(w, PathEdit):
                w.setText(str(value))
            else:
                w.setText(format_value(value))
        finally:
            w.blockSignals(False)
        self.set_error("")

    # ----------------------------------------------------------- editing
    def commit(self, value: Any) -> None:
        try:
            self.form.project.set(self.dotted, value)
        except ConfigError as exc:
            self.set_error(exc.message)
            return
        self.set_error("")
        self.form.edited.emit(self.dotted)

    def commit_text(self, raw: str) -> None:
        raw = raw.strip()
        if typing.get_origin(self.tp) is list:
            raw = "[" + raw.strip("[]") + "]"
        try:
            self.form.project.set_text(self.dotted, raw)
        except ConfigError as exc:
            self.set_error(exc.message)
            return
        self.set_error("")
        self.form.edited.emit(self.dotted)

    def set_error(self, message: str) -> None:
        was = bool(self.error.text())
        self.error.setText(message)
        self.error.setVisible(bool(message))
        self.input.setProperty("invalid", bool(message))
        # Re-polish so the style sheet's [invalid="true"] rule applies now.
        for w in [self.input] + self.input.findChildren(QLineEdit):
            w.setProperty("invalid", bool(message))
            w.style().unpolish(w)
            w.style().polish(w)
        if was != bool(message):
            self.form._validity_changed()

    @property
    def has_error(self) -> bool:
        return bool(self.error.text())


def format_value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


class ConfigForm(QWidget):
    """Form for some fields of one config section; groups and an Advanced section."""

    edited = Signal(str)             # dotted key, after a valid edit
    validity_changed = Signal(bool)  # True when every field is valid

    def __init__(self, project: Project, section: str, *, fields: list[str] | None = None,
                 exclude: tuple[str, ...] = (), group_order: tuple[str, ...] = (), default_group: str = "",
                 grouped: bool = True, collapse_advanced: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project, self.section = project, section
        proto = ProjectConfig()
        cls = type(getattr(proto, section)) if section else ProjectConfig
        hints = typing.get_type_hints(cls)
        chosen = [f for f in section_fields(section) if f.name not in exclude and (fields is None or f.name in fields)]
        if fields is not None:  # keep the caller's order
            chosen.sort(key=lambda f: fields.index(f.name))
        self.editors: dict[str, FieldEditor] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)

        is_adv = (lambda f: bool(f.metadata.get("advanced"))) if collapse_advanced else (lambda f: False)
        basic = [f for f in chosen if not is_adv(f)]
        advanced = [f for f in chosen if is_adv(f)]
        groups: dict[str, list[dataclasses.Field]] = {}
        for f in basic:
            groups.setdefault(f.metadata.get("group") or default_group, []).append(f)
        order = [g for g in group_order if g in groups] + [g for g in groups if g not in group_order]
        for g in order:
            form = QFormLayout()
            self._setup_form(form)
            for f in groups[g]:
                self._add_row(form, f, hints[f.name])
            if grouped and g:
                box = QGroupBox(g.replace("&", "&&"), self)
                box.setLayout(form)
                lay.addWidget(box)
            else:
                lay.addLayout(form)
        self.advanced = None
        if advanced:
            from superqt import QCollapsible

            self.advanced = QCollapsible("Advanced", self)
            self.advanced.setDuration(0)  # no animation: instant and test friendly
            inner = QWidget()
            form = QFormLayout(inner)
            self._setup_form(form)
            adv_groups: dict[str, list] = {}
            for f in advanced:
                adv_groups.setdefault(f.metadata.get("group") or "", []).append(f)
            for g in [g for g in group_order if g in adv_groups] + [g for g in adv_groups if g not in group_order]:
                if g and len(adv_groups) > 1:
                    head = QLabel(g.replace("&", "&&"), inner)
                    head.setObjectName("formSection")
                    form.addRow(head)
                for f in adv_groups[g]:
                    self._add_row(form, f, hints[f.name])
            self.advanced.addWidget(inner)
            self.advanced.collapse(animate=False)
            lay.addWidget(self.advanced)
        self._align_labels()
        self.refresh()

    def _align_labels(self) -> None:
        """One label column width for all groups, so the fields line up."""
        labels = [lab for lab in self.findChildren(QLabel) if lab.buddy() is not None]
        if labels:
            width = max(lab.sizeHint().width() for lab in labels)
            for lab in labels:
                lab.setMinimumWidth(width)

    @staticmethod
    def _setup_form(form: QFormLayout) -> None:
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)

    def _add_row(self, form: QFormLayout, f: dataclasses.Field, tp: Any) -> None:
        dotted = f"{self.section}.{f.name}" if self.section else f.name
        editor = FieldEditor(self, dotted, f, tp)
        label = QLabel(humanize(f.name), self)
        label.setToolTip(field_tooltip(f))
        label.setBuddy(editor.input)
        form.addRow(label, editor)
        self.editors[f.name] = editor

    # ------------------------------------------------------------- state
    def refresh(self) -> None:
        """Show the project's current values (after a project was opened)."""
        for name, editor in self.editors.items():
            editor.set_value(self.project.get(editor.dotted))

    def editor(self, name: str) -> FieldEditor:
        return self.editors[name]

    def has_errors(self) -> bool:
        return any(e.has_error for e in self.editors.values())

    def errors(self) -> list[tuple[str, str]]:
        return [(e.dotted, e.error.text()) for e in self.editors.values() if e.has_error]

    def _validity_changed(self) -> None:
        self.validity_changed.emit(not self.has_errors())
