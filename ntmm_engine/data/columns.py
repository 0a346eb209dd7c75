"""Which column holds the text and which the label: one detector for training and prediction."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import DataError

LABEL_NAME_HINTS = ("label", "labels", "class", "target", "category", "condition_label", "y")
MAX_CLASSES = 1000


# ---------------------------------------------------------- column detection
def find_text_column(values: dict[str, list[Any]], *, exclude: tuple[str, ...] = (), source: str = "data",
                     hint: str = "set data.text_column to the column with the texts") -> str:
    """The text column among ``values`` (column -> sample of its values): the longest free text.

    Columns of numbers, of nested values, and short columns named like a
    label (label, class, ...) are skipped. The one rule for training data and
    for files to predict, so both read the same field.
    """
    best, best_len, why = "", 0.0, []
    for c, column_values in values.items():
        if c in exclude:
            continue
        vals = [v for v in column_values if v is not None]
        if vals and sum(isinstance(v, (list, dict)) for v in vals) >= 0.5 * len(vals):
            why.append(f"'{c}' holds nested values ({type(vals[0]).__name__})")
            continue
        strs = [v for v in vals if isinstance(v, str)]
        numbers = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(strs) < 0.5 * len(vals) or not vals:
            if numbers and len(numbers) >= 0.5 * len(vals):
                why.append(f"'{c}' holds only numbers")
            continue
        free = [v for v in strs if not _is_number(v)]
        if len(free) < 0.5 * len(strs):
            why.append(f"'{c}' holds only numbers")
            continue
        mean_len = float(np.mean([len(v) for v in free])) if free else 0.0
        # A short column named like a label (label, class, ...) is the label, not the text.
        if label_like_name(c) and mean_len < 20:
            continue
        if mean_len > best_len:
            best, best_len = c, mean_len
    if not best:
        raise DataError(f"{source}: no column holds free text (columns: {', '.join(map(str, values))})"
                        + (f"; {'; '.join(why)}" if why else "") + ".", hint=hint)
    return best


def detect_columns(ds, text_column: str = "", label_column: str = "", *, source: str = "data") -> tuple[str, str]:
    """Choose the text column (:func:`find_text_column`) and the label column (few distinct values)."""
    cols = list(ds.column_names)
    for name, value in (("data.text_column", text_column), ("data.label_column", label_column)):
        if value and value not in cols:
            raise DataError(f"{name}: column '{value}' is not in {source} (columns: {', '.join(cols)}).")
    sample = ds.select(range(min(len(ds), 2000)))
    if not text_column:
        text_column = find_text_column({c: sample[c] for c in cols}, exclude=(label_column,) if label_column else (),
                                       source=source)
    if not label_column:
        candidates = []
        for c in cols:
            if c == text_column:
                continue
            vals = [v for v in sample[c] if v is not None]
            if not vals or any(isinstance(v, (list, dict)) for v in vals[:50]):
                continue
            n_unique = len({str(v) for v in vals})
            hinted = label_like_name(c)
            if n_unique <= max(2, min(MAX_CLASSES, len(vals) // 2)) or hinted:
                candidates.append((not hinted, n_unique, c))
        if not candidates:
            raise DataError(f"{source}: no column looks like a label column (columns: {', '.join(cols)}).",
                            hint="set data.label_column")
        label_column = sorted(candidates)[0][2]
    return text_column, label_column


def label_like_name(column: str) -> bool:
    return column.lower() in LABEL_NAME_HINTS or "label" in column.lower()


def _is_number(v: Any) -> bool:
    try:
        float(str(v).replace(",", ""))
        return True
    except ValueError:
        return False
