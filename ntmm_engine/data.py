"""Loading, checking, splitting and tokenizing a labelled text dataset.

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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .config import DataConfig
from .errors import DataError

FILE_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json", ".jsonl": "json",
                ".ndjson": "json", ".parquet": "parquet", ".pq": "parquet"}
LABEL_NAME_HINTS = ("label", "labels", "class", "target", "category", "condition_label", "y")
MAX_CLASSES = 1000


@dataclass
class DataReport:
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
    fingerprint: str = ""
    augmentation: dict[str, Any] = field(default_factory=dict)  # set by augment.augment_split

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict
        return asdict(self)

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


# ------------------------------------------------------------------ loading
def _short_cause(exc: BaseException) -> str:
    """The innermost message of a chained exception (datasets wraps parser errors)."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__
    text = str(seen).strip().splitlines()
    return (text[0] if text else type(seen).__name__)[:300]


def load_table(source: str, base_dir: str | Path = ".", *, what: str = "data.train"):
    """Load one file, ``save_to_disk`` folder or hub dataset name as a ``datasets.Dataset``."""
    import datasets

    if not source:
        raise DataError(f"{what}: no data file given.")
    path = Path(source).expanduser()
    if not path.is_absolute():
        path = (Path(base_dir) / path)
    if path.is_dir():
        try:
            ds = datasets.load_from_disk(str(path))
        except Exception as exc:
            raise DataError(f"{path} is a folder but not one written by datasets.save_to_disk ({_short_cause(exc)}).") from None
        if isinstance(ds, datasets.DatasetDict):
            if "train" not in ds:
                raise DataError(f"{path} holds splits {list(ds)} but no 'train' split.")
            return ds  # caller picks the splits
        return ds
    suffix = path.suffix.lower()
    if suffix in FILE_FORMATS or path.exists():
        if not path.is_file():
            raise DataError(f"File not found: {path}", hint=f"check {what} in the project settings")
        if path.stat().st_size == 0:
            raise DataError(f"{path} is empty.")
        fmt = FILE_FORMATS.get(suffix, "csv")
        return _load_file(path, fmt, suffix)
    if looks_like_hub_name(source):
        return _load_hub(source)
    raise DataError(f"File not found: {path}", hint=f"check {what} in the project settings")


def looks_like_hub_name(source: str) -> bool:
    parts = source.split("/")
    return len(parts) <= 2 and all(p and p.replace("-", "").replace("_", "").replace(".", "").isalnum() for p in parts) and "." not in Path(source).suffix


def _load_file(path: Path, fmt: str, suffix: str):
    import datasets

    _check_text_file(path, fmt)
    kwargs: dict[str, Any] = {}
    if suffix == ".tsv":
        kwargs["delimiter"] = "\t"
    if fmt == "json":
        _check_json_shape(path)
    try:
        with _quiet_datasets():  # datasets logs the parser error itself; the DataError below says it plainly
            ds = datasets.load_dataset(fmt, data_files=str(path), split="train", **kwargs)
    except Exception as exc:
        cause = _short_cause(exc)
        if fmt == "json":
            _raise_json_problem(path)
        if "corresponds to no data" in cause:
            raise DataError(f"{path} has no data rows.") from None
        if "codec" in cause or "decode" in cause:
            raise DataError(f"{path} is not UTF-8 text ({cause}).", hint="re-save the file as UTF-8 (e.g. from Excel: CSV UTF-8)") from None
        if "Expected" in cause and "fields" in cause:
            raise DataError(f"{path}: rows have different numbers of fields ({cause}).", hint="check the delimiter and quoting of the file") from None
        if "duplicate" in cause.lower() or "Duplicate" in cause:
            raise DataError(f"{path}: duplicate column names ({cause}).") from None
        raise DataError(f"Cannot read {path} as {fmt.upper()}: {cause}") from None
    if len(ds.column_names) != len(set(ds.column_names)):
        raise DataError(f"{path}: duplicate column names {ds.column_names}.")
    return ds


@contextmanager
def _quiet_datasets() -> Iterator[None]:
    import logging
    lg = logging.getLogger("datasets")
    level = lg.level
    lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        lg.setLevel(level)


def _raise_json_problem(path: Path) -> None:
    """After a failed JSON load: name the first bad line (JSON Lines) or say the file holds no records."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    else:
        if isinstance(whole, list) and not whole:
            raise DataError(f"{path} has no data rows (an empty JSON list).")
        if isinstance(whole, list) and not all(isinstance(r, dict) for r in whole):
            bad = next(i for i, r in enumerate(whole, 1) if not isinstance(r, dict))
            raise DataError(f"{path}, record {bad}: expected an object like {{\"text\": ..., \"label\": ...}}, "
                            f"got {type(whole[bad - 1]).__name__}.")
        return
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{path}, line {n}: not valid JSON ({exc}).",
                            hint="each line of a JSON Lines file must be one complete JSON object") from None
        if not isinstance(rec, dict):
            raise DataError(f"{path}, line {n}: expected a JSON object, got {type(rec).__name__}.")


def _check_text_file(path: Path, fmt: str) -> None:
    if fmt == "parquet":
        return
    head = path.open("rb").read(65536)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{path} is UTF-16 text; NTMM reads UTF-8.", hint="re-save the file as UTF-8 (e.g. from Excel: CSV UTF-8)")
    if b"\x00" in head:
        raise DataError(f"{path} is not a text file (it contains binary data).", hint="export the data as CSV, JSON Lines or Parquet")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the 64 KiB boundary
            raise DataError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}).",
                            hint="re-save the file as UTF-8 (e.g. from Excel: CSV UTF-8)") from None
    if fmt == "csv":
        text = head.decode("utf-8", errors="ignore")
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) <= 1 and path.stat().st_size <= len(head):
            raise DataError(f"{path} has a header but no data rows." if lines else f"{path} is empty.")
        header = lines[0].split("\t" if path.suffix.lower() == ".tsv" else ",")
        names = [h.strip().strip('"') for h in header]
        dups = sorted({n for n in names if names.count(n) > 1 and n})
        if dups:
            raise DataError(f"{path}: duplicate column names {dups}.", hint="rename the columns so each is unique")


def _check_json_shape(path: Path) -> None:
    with path.open("rb") as fh:
        first = fh.read(4096).lstrip()
    if not first:
        raise DataError(f"{path} is empty.")
    if first[:1] == b"[" or path.suffix.lower() == ".jsonl":
        return
    if first[:1] == b"{":
        # JSON Lines (one object per line) is fine; one big object is not a table.
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return  # JSON Lines
        if isinstance(obj, dict) and not any(isinstance(v, list) for v in obj.values()):
            raise DataError(f"{path} is one JSON object, not a list of records.",
                            hint='write a list like [{"text": ..., "label": ...}, ...] or JSON Lines')
        return
    raise DataError(f"{path} is not a list of JSON records.", hint='write a list like [{"text": ..., "label": ...}, ...] or JSON Lines')


def _load_hub(name: str):
    import datasets

    try:
        ds = datasets.load_dataset(name)
    except Exception as exc:
        cause = _short_cause(exc)
        raise DataError(f"Cannot load hub dataset '{name}': {cause}",
                        hint="no file or folder has this name, and the Hugging Face hub cannot be reached or has no such dataset; "
                             "give a local file, or go online once to download it") from None
    return ds


# ---------------------------------------------------------- column detection
def detect_columns(ds, text_column: str = "", label_column: str = "", *, source: str = "data") -> tuple[str, str]:
    """Choose the text column (longest free text) and label column (few distinct values)."""
    cols = list(ds.column_names)
    for name, value in (("data.text_column", text_column), ("data.label_column", label_column)):
        if value and value not in cols:
            raise DataError(f"{name}: column '{value}' is not in {source} (columns: {', '.join(cols)}).")
    sample = ds.select(range(min(len(ds), 2000)))
    if not text_column:
        best, best_len, why = "", 0.0, []
        for c in cols:
            if c == label_column:
                continue
            vals = [v for v in sample[c] if v is not None]
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
            if _label_like_name(c) and mean_len < 20:
                continue
            if mean_len > best_len:
                best, best_len = c, mean_len
        if not best:
            raise DataError(f"{source}: no column holds free text (columns: {', '.join(cols)})"
                            + (f"; {'; '.join(why)}" if why else "") + ".",
                            hint="set data.text_column to the column with the texts")
        text_column = best
    if not label_column:
        candidates = []
        for c in cols:
            if c == text_column:
                continue
            vals = [v for v in sample[c] if v is not None]
            if not vals or any(isinstance(v, (list, dict)) for v in vals[:50]):
                continue
            n_unique = len({str(v) for v in vals})
            hinted = _label_like_name(c)
            if n_unique <= max(2, min(MAX_CLASSES, len(vals) // 2)) or hinted:
                candidates.append((not hinted, n_unique, c))
        if not candidates:
            raise DataError(f"{source}: no column looks like a label column (columns: {', '.join(cols)}).",
                            hint="set data.label_column")
        label_column = sorted(candidates)[0][2]
    return text_column, label_column


def _label_like_name(column: str) -> bool:
    return column.lower() in LABEL_NAME_HINTS or "label" in column.lower()


def _is_number(v: Any) -> bool:
    try:
        float(str(v).replace(",", ""))
        return True
    except ValueError:
        return False


# ----------------------------------------------------------------- labels
def _label_key(v: Any) -> str | None:
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
        key = _label_key(row[0])
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
    raw = load_table(cfg.train, base_dir, what="data.train")
    given: dict[str, Any] = {}
    sources = {"train": cfg.train}
    if isinstance(raw, datasets.DatasetDict):
        given = {k: v for k, v in raw.items() if k in ("validation", "test")}
        if "valid" in raw and "validation" not in given:
            given["validation"] = raw["valid"]
        raw = raw["train"]
    for split in ("validation", "test"):
        src = getattr(cfg, split)
        if src:
            t = load_table(src, base_dir, what=f"data.{split}")
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
                        warnings=warnings, sources=sources, max_length=cfg.max_length,
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
        key = _label_key(l)
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


def measure_token_lengths(report: DataReport, texts: list[str], tokenizer, max_length: int) -> None:
    lengths = np.asarray([len(x) for x in tokenizer(texts[:5000], add_special_tokens=True, truncation=False)["input_ids"]])
    if len(lengths):
        report.token_lengths = {f"p{q}": float(np.percentile(lengths, q)) for q in (50, 90, 95, 99)}
        report.token_lengths["max"] = float(lengths.max())
        report.truncated_share = float((lengths > max_length).mean())


def token_lengths(texts: list[str], tokenizer) -> list[int]:
    return [len(x) for x in tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]]


def tokenize(prepared: PreparedData, tokenizer, max_length: int):
    """Tokenize every split once, without padding (the collator pads per batch)."""
    def fn(batch):
        return tokenizer(batch["text"], truncation=True, max_length=max_length)

    tok = prepared.splits.map(fn, batched=True, desc=None, load_from_cache_file=False)
    return tok.rename_column("label", "labels")
