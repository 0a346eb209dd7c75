"""Cleaning, labelling, splitting and tokenizing a labelled text dataset.

``prepare_data`` turns the ``data`` section of a project into a
``datasets.DatasetDict`` with ``text`` and ``label`` columns for train,
validation and test, the label names, and a :class:`DataReport`. Every
problem a user can cause becomes a :class:`DataError` naming the file,
column or row.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..core.config import DataConfig
from ..core.errors import DataError
from ..core.results import Record
from .columns import MAX_CLASSES, _is_number, detect_columns
from .readers import read_source


@dataclass
class UnlabelledReport(Record):
    """The texts without labels (``data.unlabelled``): what was read, dropped and used (:mod:`.unlabelled`)."""

    sources: list[str] = field(default_factory=list)     # data.unlabelled as given
    files: dict[str, int] = field(default_factory=dict)  # every file read (a folder's files too) -> texts read from it
    formats: dict[str, str] = field(default_factory=dict)  # file -> how it was read
    text_columns: dict[str, str] = field(default_factory=dict)  # file -> the column used ("text" for plain texts)
    read: int = 0  # rows read
    used: int = 0  # texts kept
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> n
    token_lengths: dict[str, float] = field(default_factory=dict)  # percentiles of the texts kept
    truncated_share: float | None = None
    fingerprint: str = ""  # of the texts kept, in order: the teacher-label cache key

    def to_text(self) -> list[str]:
        lines = [f"Unlabelled texts: {self.used} used of {self.read} read from {len(self.files)} file(s)"
                 + "".join(f"; dropped {n} ({reason})" for reason, n in self.dropped.items() if n)]
        if self.token_lengths:
            lines.append("Token lengths (unlabelled): " + ", ".join(f"{k} {v:.0f}" for k, v in self.token_lengths.items())
                         + (f"; {self.truncated_share:.1%} longer than max_length" if self.truncated_share is not None else ""))
        for name, how in self.formats.items():
            column = self.text_columns.get(name)
            lines.append(f"Read {name} as: {how}" + (f", text column '{column}'" if column else ""))
        return lines


@dataclass
class DataReport(Record):
    """What a user needs to know about the data before training."""

    text_column: str = ""
    label_column: str = ""
    label_names: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> label -> n
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> reason -> n
    token_lengths: dict[str, float] = field(default_factory=dict)  # percentiles on train
    truncated_share: float | None = None
    max_length: int = 0
    warnings: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)  # split -> how its file was read ("semicolon-separated, UTF-8")
    fingerprint: str = ""
    augmentation: dict[str, Any] = field(default_factory=dict)  # set by augment.augment_split
    unlabelled: UnlabelledReport | None = None  # set by unlabelled.read_unlabelled when data.unlabelled is given

    def to_text(self) -> str:
        lines = [f"Text column: {self.text_column}    label column: {self.label_column}",
                 f"Classes ({len(self.label_names)}): {', '.join(self.label_names)}"]
        splits = list(self.counts)
        lines.append("class".ljust(34) + "".join(s.rjust(12) for s in splits))
        for name in self.label_names:
            lines.append(name[:33].ljust(34) + "".join(str(self.counts[s].get(name, 0)).rjust(12) for s in splits))
        if self.token_lengths:
            tl = self.token_lengths
            lines.append("Token lengths (train): " + ", ".join(f"{k} {v:.0f}" for k, v in tl.items())
                         + (f"; {self.truncated_share:.1%} longer than max_length {self.max_length}" if self.truncated_share is not None else ""))
        for split, reasons in self.dropped.items():
            for reason, n in reasons.items():
                if n:
                    lines.append(f"Dropped from {split}: {n} row(s) ({reason})")
        if self.augmentation:
            a = self.augmentation
            lines.append(f"Augmentation: {a.get('added_rows', 0)} augmented training row(s) added "
                         f"({a.get('copies')} cop{'y' if a.get('copies') == 1 else 'ies'} per example, p={a.get('p')}, "
                         f"ops {', '.join(a.get('ops', []))})")
        for split, how in self.formats.items():
            lines.append(f"Read {split} as: {how}")
        if self.unlabelled is not None:
            lines += self.unlabelled.to_text()
        lines += [f"Warning: {w}" for w in self.warnings]
        return "\n".join(lines)


@dataclass
class PreparedData:
    splits: Any  # datasets.DatasetDict with "text" and "label"
    label_names: list[str]
    report: DataReport

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.label_names))


# ----------------------------------------------------------------- labels
def label_key(v: Any) -> str | None:
    """Normalise a raw label: 1, 1.0 and "1.0" are the same class; NaN/empty is missing."""
    if v is None:
        return None
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return None
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (list, dict)):
        raise DataError(f"labels must be single values, found {type(v).__name__}")
    s = str(v).strip()
    if not s or s.lower() in ("nan", "none", "null", "na"):
        return None
    try:
        f = float(s)
        if f.is_integer() and not s.isalpha():
            return str(int(f))
    except ValueError:
        pass
    return s


def _sort_labels(keys: set[str]) -> list[str]:
    if all(_is_number(k) for k in keys):
        return sorted(keys, key=lambda k: float(k))
    return sorted(keys)


def read_label_names(path: str | Path) -> dict[str, str]:
    """Two-column CSV (id, name), header optional."""
    import csv

    path = Path(path)
    if not path.is_file():
        raise DataError(f"data.label_names: file not found: {path}")
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text.") from None
    out = {}
    for i, row in enumerate(rows, 1):
        if len(row) < 2:
            if row:
                raise DataError(f"{path}, row {i}: expected two columns (id, name).")
            continue
        key = label_key(row[0])
        if i == 1 and not _is_number(row[0]) and key not in out:
            # header row such as "condition_label,condition_name"
            if row[0].lower().endswith(("label", "id")):
                continue
        if key is not None:
            out[key] = row[1].strip()
    return out


# ------------------------------------------------------------ preparation
def prepare_data(cfg: DataConfig, *, seed: int = 42, base_dir: str | Path = ".",
                 tokenizer=None, on_progress: Callable[[str], None] | None = None) -> PreparedData:
    """Load, clean, split and check the data; optionally measure token lengths."""
    import datasets

    datasets.disable_progress_bars()  # the engine reports progress through events
    say = on_progress or (lambda _m: None)
    say("reading data")
    raw, how = read_source(cfg.train, base_dir, what="data.train", sheet=cfg.sheet)
    given: dict[str, Any] = {}
    sources = {"train": cfg.train}
    formats = {"train": how}
    if isinstance(raw, datasets.DatasetDict):
        given = {k: v for k, v in raw.items() if k in ("validation", "test")}
        if "valid" in raw and "validation" not in given:
            given["validation"] = raw["valid"]
        raw = raw["train"]
    for split in ("validation", "test"):
        src = getattr(cfg, split)
        if src:
            t, formats[split] = read_source(src, base_dir, what=f"data.{split}", sheet=cfg.sheet)
            given[split] = t["train"] if isinstance(t, datasets.DatasetDict) else t
            sources[split] = src
    if len(raw) == 0:
        raise DataError(f"{cfg.train} has no data rows.")
    text_col, label_col = detect_columns(raw, cfg.text_column, cfg.label_column, source=cfg.train)
    for split, t in given.items():
        missing = [c for c in (text_col, label_col) if c not in t.column_names]
        if missing:
            raise DataError(f"{sources.get(split, split)}: column(s) {missing} missing (the training data uses "
                            f"text column '{text_col}' and label column '{label_col}').")

    dropped: dict[str, dict[str, int]] = {}
    rows: dict[str, tuple[list[str], list[str]]] = {}
    for split, t in [("train", raw)] + list(given.items()):
        texts, labels, drop = _clean_rows(t[text_col], t[label_col], sources.get(split, split), label_col, text_col)
        rows[split] = (texts, labels)
        dropped[split] = drop
    train_texts, train_labels = rows["train"]
    if not train_texts:
        raise DataError(f"{cfg.train}: no usable rows (every row has an empty text or a missing label).")
    if all(_is_number(t) for t in train_texts[:5000]):
        raise DataError(f"{cfg.train}: text column '{text_col}' holds only numbers (e.g. {train_texts[0]!r}), not free text.",
                        hint="set data.text_column to the column with the texts")

    # Label names and ids
    keys = _sort_labels(set(train_labels))
    if len(keys) < 2:
        raise DataError(f"{cfg.train}: column '{label_col}' has only one class ({keys[0]!r}); a classifier needs at least 2.")
    if len(keys) > MAX_CLASSES:
        raise DataError(f"{cfg.train}: column '{label_col}' has {len(keys)} distinct values; NTMM supports up to {MAX_CLASSES} classes.",
                        hint="is this really the label column? set data.label_column")
    names_map = read_label_names(Path(base_dir) / cfg.label_names if not Path(cfg.label_names).is_absolute() else cfg.label_names) if cfg.label_names else {}
    label_names = [names_map.get(k, k) for k in keys]
    if len(set(label_names)) != len(label_names):
        raise DataError("data.label_names: two labels map to the same name.")
    key_to_id = {k: i for i, k in enumerate(keys)}
    for split in given:
        unseen = sorted(set(rows[split][1]) - set(keys))
        if unseen:
            raise DataError(f"{sources[split]}: label(s) {unseen[:10]} in column '{label_col}' never occur in the training data.",
                            hint="every class must have training examples; fix the labels or move rows into training")

    # Splits
    split_texts: dict[str, list[str]] = {}
    split_ids: dict[str, list[int]] = {}
    ids = [key_to_id[k] for k in train_labels]
    need = [s for s in ("validation", "test") if s not in given]
    if need:
        train_idx, held = _stratified_split(ids, [s for s in need], cfg, seed, label_names, cfg.train)
        split_texts["train"] = [train_texts[i] for i in train_idx]
        split_ids["train"] = [ids[i] for i in train_idx]
        for s, idx in held.items():
            split_texts[s] = [train_texts[i] for i in idx]
            split_ids[s] = [ids[i] for i in idx]
            sources[s] = f"{cfg.train} (split off, {len(idx)} rows)"
    else:
        split_texts["train"], split_ids["train"] = train_texts, ids
    for s in given:
        split_texts[s] = rows[s][0]
        split_ids[s] = [key_to_id[k] for k in rows[s][1]]

    warnings: list[str] = []
    if cfg.drop_cross_split_duplicates:
        seen = set(split_texts["train"])
        for s in ("validation", "test"):
            keep = [i for i, t in enumerate(split_texts[s]) if t not in seen]
            n = len(split_texts[s]) - len(keep)
            dropped.setdefault(s, {})["duplicate of a training text"] = n
            split_texts[s] = [split_texts[s][i] for i in keep]
            split_ids[s] = [split_ids[s][i] for i in keep]
    for s in ("validation", "test"):
        if not split_texts[s]:
            raise DataError(f"The {s} split is empty after cleaning.", hint=f"give more rows or a {s} file")

    counts = {s: {name: 0 for name in label_names} for s in ("train", "validation", "test")}
    for s in counts:
        for i in split_ids[s]:
            counts[s][label_names[i]] += 1
    for name in label_names:
        if counts["train"][name] < 5:
            warnings.append(f"class '{name}' has only {counts['train'][name]} training example(s)")

    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=[str(n) for n in label_names])})
    dd = datasets.DatasetDict({s: datasets.Dataset.from_dict({"text": split_texts[s], "label": split_ids[s]}, features=features)
                               for s in ("train", "validation", "test")})
    report = DataReport(text_column=text_col, label_column=label_col, label_names=label_names, counts=counts,
                        dropped={s: {k: v for k, v in d.items() if v} for s, d in dropped.items()},
                        warnings=warnings, sources=sources, formats=formats, max_length=cfg.max_length,
                        fingerprint=fingerprint(split_texts, split_ids, label_names))
    if tokenizer is not None:
        say("measuring token lengths")
        measure_token_lengths(report, split_texts["train"], tokenizer, cfg.max_length)
    return PreparedData(dd, label_names, report)


def _clean_rows(texts: list[Any], labels: list[Any], source: str, label_col: str, text_col: str = "text"):
    out_t, out_l = [], []
    drop = {"empty text": 0, "missing label": 0}
    for row, (t, l) in enumerate(zip(texts, labels), start=2):
        if isinstance(l, (list, dict)):
            raise DataError(f"{source}, row {row}: label column '{label_col}' holds a nested value ({type(l).__name__}).")
        if isinstance(t, (list, dict)):
            raise DataError(f"{source}, row {row}: text column '{text_col}' holds a nested value ({type(t).__name__}), not text.",
                            hint="flatten the column to plain text, or set data.text_column to another column")
        t = "" if t is None or (isinstance(t, float) and math.isnan(t)) else str(t).strip()
        if not t:
            drop["empty text"] += 1
            continue
        key = label_key(l)
        if key is None:
            drop["missing label"] += 1
            continue
        out_t.append(t)
        out_l.append(key)
    return out_t, out_l, drop


def _stratified_split(ids: list[int], need: list[str], cfg: DataConfig, seed: int, names: list[str], source: str):
    from sklearn.model_selection import train_test_split

    counts = np.bincount(ids, minlength=len(names))
    n_parts = 1 + len(need)
    small = [names[i] for i, c in enumerate(counts) if c < n_parts]
    if small:
        raise DataError(f"{source}: class(es) {small[:10]}{' ...' if len(small) > 10 else ''} have fewer than {n_parts} examples, too few to split "
                        f"stratified into train/{'/'.join(need)}.",
                        hint="add examples, remove the class, or give validation/test files")
    idx = np.arange(len(ids))
    y = np.asarray(ids)
    held: dict[str, list[int]] = {}
    ratios = {s: getattr(cfg, f"{s}_ratio") for s in need}
    remaining_share = 1.0
    for s in need:
        share = ratios[s] / remaining_share
        n_held = max(len(names), int(round(share * len(idx))))
        if len(idx) - n_held < len(names):
            raise DataError(f"{source}: too few rows ({len(ids)}) to split off {s} with {len(names)} classes.")
        try:
            idx, held_idx, y, _ = train_test_split(idx, y, test_size=n_held, stratify=y, random_state=seed)
        except ValueError as exc:
            raise DataError(f"{source}: cannot split stratified ({exc}).") from None
        held[s] = sorted(held_idx.tolist())
        remaining_share -= ratios[s]
    return sorted(idx.tolist()), held


def fingerprint(texts: dict[str, list[str]], ids: dict[str, list[int]], names: list[str]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(names).encode())
    for s in sorted(texts):
        h.update(s.encode())
        for t, i in zip(texts[s], ids[s]):
            h.update(t.encode("utf-8", "surrogatepass"))
            h.update(b"\x1f%d\x1e" % i)
    return h.hexdigest()[:16]


def measure_token_lengths(report: DataReport | UnlabelledReport, texts: list[str], tokenizer, max_length: int) -> None:
    """Percentiles of the token lengths of (up to 5,000 of) ``texts``, and the share longer than ``max_length``."""
    lengths = np.asarray([len(x) for x in tokenizer(texts[:5000], add_special_tokens=True, truncation=False)["input_ids"]])
    if len(lengths):
        report.token_lengths = {f"p{q}": float(np.percentile(lengths, q)) for q in (50, 90, 95, 99)}
        report.token_lengths["max"] = float(lengths.max())
        report.truncated_share = float((lengths > max_length).mean())


def token_lengths(texts: list[str], tokenizer) -> list[int]:
    return [len(x) for x in tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]]


def tokenize_texts(texts: list[str], tokenizer, max_length: int):
    """A Dataset of ``texts`` tokenized without padding (input_ids, attention_mask...; no text column)."""
    import datasets

    ds = datasets.Dataset.from_dict({"text": list(texts)})
    return ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=max_length), batched=True, desc=None,
                  load_from_cache_file=False, remove_columns=["text"])


def tokenize(prepared: PreparedData, tokenizer, max_length: int):
    """Tokenize every split once, without padding (the collator pads per batch)."""
    def fn(batch):
        return tokenizer(batch["text"], truncation=True, max_length=max_length)

    tok = prepared.splits.map(fn, batched=True, desc=None, load_from_cache_file=False)
    return tok.rename_column("label", "labels")
