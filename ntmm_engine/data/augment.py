"""Meaning-preserving augmentation of clinical text for the training split.

Three operations, each applied with probability ``p`` per eligible word:

* ``synonym``: replace a term (one or more words) by another from the same
  group of ``resources/medical_synonyms.csv`` (MI / myocardial infarction /
  heart attack), keeping the case of the text sensibly;
* ``insert``: insert a neutral filler phrase ("reportedly", "on examination")
  from ``resources/clinical_fillers.txt`` where a phrase ends: before a
  preposition ("attends ED | with palpitations"), never inside
  a noun phrase ("neck | stiffness") or before "of";
* ``swap``: swap the two single-word items of a coordination ("nausea and
  vomiting" -> "vomiting and nausea"): the one reordering that keeps the
  meaning of clinical text ("severe headache", "attends ED" never move).

Negations and their scope ("no fever", "denies chest pain", "negative for
malignancy") and numbers with units ("5 mg", "120/80 mmHg", "38.5 °C",
"3 days", "45%") are frozen: never replaced, moved or split by an insertion.
Multi-word clinical terms and fixed phrases (the synonym table's terms and
``resources/clinical_phrases.txt``: "worst headache of life", "attends ED")
are kept whole: no swap moves, crosses or splits them, no filler goes inside
them and no synonym replaces a word inside them.
Every example gets its own RNG derived from (seed, example index, copy), so
a copy does not depend on the order in which examples are processed.

Hand-written because the usual libraries (nlpaug, TextAttack) are not
dependencies, need WordNet/embedding downloads, and know nothing about
negation scope or measurements, which matter more for clinical labels than
augmentation variety does.
"""

from __future__ import annotations

import copy as _copy
import csv
import hashlib
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..core.config import AUGMENT_OPS
from ..core.errors import ConfigError, NTMMError
from ..core.resources import resources_dir
from .prepare import PreparedData, fingerprint

# A word (letters/digits joined by . / ' - +, e.g. "120/80", "c/o", "38.5",
# "Parkinson's", "a-fib", "45%") or any single other non-space character.
TOKEN_RE = re.compile(r"[^\W_]+(?:[./'’\-+][^\W_]+)*%?|\S")


NUMBER_RE = re.compile(r"^[+\-~<>≤≥]?\.?\d")


WORD_RE = re.compile(r"^[^\W\d_]")


NEGATION_CUES = frozenset({"no", "not", "denies", "denied", "deny", "denying", "without", "absent", "nor", "never",
                           "none", "neither", "negative", "cannot", "free", "ruled", "rules", "rule", "absence", "lack",
                           "lacks", "lacking", "unremarkable"})


# Cues that usually follow what they negate ("pulses absent", "troponin negative").
POST_NEGATIONS = frozenset({"absent", "negative", "unremarkable"})


# Words that extend a cue before its object ("negative for", "no evidence of", "ruled out").
CUE_CONTINUATIONS = frozenset({"for", "of", "out", "evidence", "signs", "sign", "history", "any", "further", "obvious",
                               "significant", "known", "apparent", "acute", "new", "recent", "focal", "a", "an", "the",
                               "to", "from", "with", "other", "current", "prior", "previous"})


# Words and marks that end a negation's scope.
SCOPE_BREAKS = frozenset({"but", "however", "although", "though", "except", "which", "who", "whereas", "yet", "apart",
                          "aside", "then", ".", ",", ";", ":", "!", "?", "(", ")", "[", "]", "-", "–", "—"})


SCOPE_MAX_WORDS = 4  # scope words after the object that may not be moved or split


UNITS = frozenset(s.lower() for s in (
    "mg", "mcg", "µg", "μg", "ug", "g", "kg", "lb", "lbs", "oz", "ml", "l", "dl", "cc", "mmhg", "cmh2o", "mmol", "mmol/l",
    "mg/dl", "mg/l", "g/dl", "g/l", "ng/ml", "pg/ml", "iu", "u", "units", "unit", "meq", "meq/l", "kcal", "bpm", "/min",
    "l/min", "breaths", "beats", "°", "°c", "°f", "c", "f", "%", "percent", "cm", "mm", "m", "in", "ft", "inches",
    "days", "day", "d", "weeks", "week", "wk", "wks", "w", "months", "month", "mo", "mos", "years", "year", "yrs", "yr",
    "y", "yo", "y/o", "hours", "hour", "h", "hr", "hrs", "minutes", "minute", "min", "mins", "seconds", "second", "s",
    "sec", "secs", "times", "x", "tabs", "tablets", "tablet", "puffs", "puff", "drops", "doses", "dose", "packs",
    "pack-years", "pack", "cigarettes", "drinks", "units/day", "mg/day", "mg/kg", "mcg/kg", "ml/h", "ml/hr", "kg/m2",
    "cells", "cells/ul", "mm3", "/mm3", "ms", "mv", "joules", "j", "gy", "french", "fr", "gauge", "g/day", "am", "pm"))


SENTENCE_ENDS = frozenset({".", "!", "?", ":", ";"})  # no word moves across or to the front of these


CAPITAL_ENDS = frozenset({".", "!", "?"})  # after these a replacement starts with a capital


GLUE_STOPS = SENTENCE_ENDS | {","}  # marks glued to a number that are not part of it


# Function words: never swapped, and no filler is inserted after them ("history of | MI").
FUNCTION_WORDS = frozenset({"a", "an", "the", "of", "to", "in", "on", "at", "for", "with", "by", "from", "as", "per", "into",
                            "onto", "over", "under", "and", "or", "but", "is", "was", "are", "were", "be", "been", "has",
                            "have", "had", "his", "her", "their", "its", "this", "that", "these", "those", "about",
                            "after", "before", "since", "than", "very", "more", "less", "most", "some", "any", "each"})


# Coordinators whose single-word items may swap; words before which a filler may go (a phrase ends
# there: "attends ED | with palpitations"). Not "of", which binds its noun ("loss of consciousness").
COORDINATORS = frozenset({"and", "or"})
INSERT_BEFORE = frozenset({"with", "since", "for", "in", "on", "at", "after", "before", "from", "to", "but",
                           "over", "during", "following", "while", "when", "until", "despite"})


FREE, NO_MOVE, FROZEN = 0, 1, 2  # lock levels of a unit


DEFAULT_P = 0.15


MAX_ATTEMPTS = 4  # tries to get a copy that differs from its original


# ------------------------------------------------------------------ resources
@dataclass(frozen=True)
class SynonymTable:
    groups: tuple[tuple[str, ...], ...]
    index: dict  # (match key tuple, cased) -> group id
    max_words: int

    def lookup(self, tokens: Sequence[str]) -> tuple[int, bool] | None:
        """(group id, whether the matched term is an abbreviation), or None."""
        exact = self.index.get((tuple(tokens), True))
        if exact is not None:
            return exact, True
        gid = self.index.get((tuple(t.lower() for t in tokens), False))
        return None if gid is None else (gid, False)


def is_cased(term: str) -> bool:
    """Abbreviation-like terms (MI, HbA1c, COVID-19): matched case-sensitively, case kept."""
    return any(c.isupper() for c in term[1:])


def _term_tokens(term: str) -> list[str]:
    return TOKEN_RE.findall(term)


@lru_cache(maxsize=4)
def load_synonyms(path: str | None = None) -> SynonymTable:
    """Read the synonym CSV (``canonical,synonyms`` with ``|`` between synonyms)."""
    p = Path(path) if path else resources_dir() / "medical_synonyms.csv"
    try:
        lines = [ln for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        raise NTMMError(f"Cannot read the synonym table {p}: {exc}") from None
    groups: list[tuple[str, ...]] = []
    index: dict = {}
    for row_no, row in enumerate(csv.reader(lines), start=1):
        if row_no == 1 and [c.strip().lower() for c in row[:2]] == ["canonical", "synonyms"]:
            continue
        if len(row) != 2:
            raise NTMMError(f"{p}: row {row_no} ({','.join(row)!r}) must have two columns: canonical,synonyms")
        terms = tuple(dict.fromkeys(t.strip() for t in [row[0], *row[1].split("|")] if t.strip()))
        if len(terms) < 2:
            raise NTMMError(f"{p}: row {row_no} ({row[0]!r}) has no synonym")
        gid = len(groups)
        for term in terms:
            cased = is_cased(term)
            toks = _term_tokens(term)
            key = (tuple(toks) if cased else tuple(t.lower() for t in toks), cased)
            if key in index and index[key] != gid:
                raise NTMMError(f"{p}: term {term!r} (row {row_no}) is also in the group of {groups[index[key]][0]!r}; "
                                "a term may belong to one group only")
            index[key] = gid
        groups.append(terms)
    return SynonymTable(tuple(groups), index, max(len(k[0]) for k in index) if index else 1)


@dataclass(frozen=True)
class PhraseTable:
    """Fixed phrases as lower-case word tuples, for longest-first matching."""

    phrases: frozenset
    max_words: int


@lru_cache(maxsize=4)
def load_phrases(path: str | None = None) -> PhraseTable:
    p = Path(path) if path else resources_dir() / "clinical_phrases.txt"
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NTMMError(f"Cannot read the clinical phrases {p}: {exc}") from None
    phrases = frozenset(tuple(t.lower() for t in _term_tokens(ln.strip())) for ln in text.splitlines()
                        if ln.strip() and not ln.lstrip().startswith("#"))
    phrases = frozenset(ph for ph in phrases if len(ph) > 1)
    return PhraseTable(phrases, max((len(ph) for ph in phrases), default=1))


def token_phrases(tokens: Sequence[str], gaps: Sequence[str], table: PhraseTable) -> list[int | None]:
    """For every token, the number of the fixed phrase it belongs to (None outside phrases); longest match first."""
    low = [t.lower() for t in tokens]
    out: list[int | None] = [None] * len(tokens)
    i, number = 0, 0
    while i < len(tokens):
        for length in range(min(table.max_words, len(tokens) - i), 1, -1):
            if tuple(low[i:i + length]) in table.phrases and not any("\n" in gaps[k] for k in range(i, i + length - 1)):
                out[i:i + length] = [number] * length
                number += 1
                i += length
                break
        else:
            i += 1
    return out


@lru_cache(maxsize=4)
def load_fillers(path: str | None = None) -> tuple[str, ...]:
    p = Path(path) if path else resources_dir() / "clinical_fillers.txt"
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NTMMError(f"Cannot read the filler phrases {p}: {exc}") from None
    return tuple(ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#"))


# ------------------------------------------------------------------ tokens
@dataclass
class Unit:
    """One token, or a matched synonym phrase, with its lock level."""

    text: str
    lock: int = FREE
    kind: str = "word"  # word | number | other | punct
    group: int | None = None  # synonym group, when the unit is a known term
    abbrev: bool = False  # matched an abbreviation-like (case-sensitive) term
    pinned: bool = False  # never swapped: phrases, replacements, fillers, words already moved
    phrase: int | None = None  # the fixed phrase (or multi-word term) the unit belongs to: never split


def _kind(tok: str) -> str:
    if NUMBER_RE.match(tok):
        return "number"
    if WORD_RE.match(tok):
        return "word"
    if tok[0].isalnum():
        return "other"
    return "punct"


def tokenize(text: str) -> tuple[str, list[str], list[str]]:
    """(leading whitespace, tokens, whitespace after each token); joins back losslessly."""
    tokens, gaps = [], []
    pos = 0
    lead = ""
    for m in TOKEN_RE.finditer(text):
        if not tokens:
            lead = text[:m.start()]
        else:
            gaps[-1] = text[pos:m.start()]
        tokens.append(m.group())
        gaps.append("")
        pos = m.end()
    if gaps:
        gaps[-1] = text[pos:]
    else:
        lead = text
    return lead, tokens, gaps


def token_locks(tokens: Sequence[str], gaps: Sequence[str]) -> list[int]:
    """Lock level of every token: negations with their objects and measurements are frozen."""
    n = len(tokens)
    low = [t.lower() for t in tokens]
    kinds = [_kind(t) for t in tokens]
    lock = [FREE] * n
    for i, t in enumerate(tokens):
        if kinds[i] == "other":
            lock[i] = max(lock[i], NO_MOVE)  # tokens like x2 or L4-L5: keep their place
    # Numbers, anything glued to them, and the unit after them ("5 mg", "38.5 °C", "120/80 mmHg").
    for i in range(n):
        if kinds[i] != "number":
            continue
        lock[i] = FROZEN
        j = i
        while j + 1 < n and gaps[j] == "" and tokens[j + 1] not in GLUE_STOPS:
            j += 1
            lock[j] = FROZEN
        if j + 1 < n and low[j + 1] in UNITS:
            j += 1
            lock[j] = FROZEN
            while j + 1 < n and gaps[j] == "" and kinds[j + 1] != "punct":
                j += 1
                lock[j] = FROZEN
        if i > 0 and gaps[i - 1] == "" and kinds[i - 1] == "punct" and tokens[i - 1] not in GLUE_STOPS:
            lock[i - 1] = FROZEN  # a sign or bracket glued in front
        elif i > 0 and kinds[i - 1] != "punct":
            lock[i - 1] = max(lock[i - 1], NO_MOVE)  # what is measured stays with it: "BP 120/80", "for 3 days"
    # Negation cues, the words that extend them, their object and (moved-protected) scope.
    for i in range(n):
        is_cue = low[i] in NEGATION_CUES or low[i].endswith(("n't", "n’t"))
        if not is_cue:
            continue
        lock[i] = FROZEN
        if low[i] in POST_NEGATIONS and i > 0 and kinds[i - 1] in ("word", "other"):
            lock[i - 1] = FROZEN  # "pulses absent"
        j = i + 1
        while j < n and low[j] in CUE_CONTINUATIONS:
            lock[j] = FROZEN
            j += 1
        if j < n and kinds[j] != "punct":
            lock[j] = FROZEN  # the object
            j += 1
        words = 0
        while j < n and low[j] not in SCOPE_BREAKS and words < SCOPE_MAX_WORDS:
            lock[j] = max(lock[j], NO_MOVE)
            words += kinds[j] != "punct"
            j += 1
    return lock


def protected_tokens(text: str) -> list[str]:
    """The tokens augmentation never touches (for tests and the GUI's preview)."""
    _, tokens, gaps = tokenize(text)
    return [t for t, lk in zip(tokens, token_locks(tokens, gaps)) if lk == FROZEN]


def _units(text: str, table: SynonymTable | None, phrases: PhraseTable | None = None) -> tuple[str, list[Unit], list[str]]:
    """Tokens grouped into units; known synonym terms become one unit each, fixed phrases are marked."""
    lead, tokens, gaps = tokenize(text)
    locks = token_locks(tokens, gaps)
    in_phrase = token_phrases(tokens, gaps, phrases) if phrases else [None] * len(tokens)
    units: list[Unit] = []
    unit_gaps: list[str] = []
    i = 0
    while i < len(tokens):
        match = None
        if table is not None and _kind(tokens[i]) != "punct":
            for length in range(min(table.max_words, len(tokens) - i), 0, -1):
                span = range(i, i + length)
                if any(locks[k] == FROZEN for k in span) or any("\n" in gaps[k] for k in span[:-1]):
                    continue
                end = i + length - 1
                # do not match part of a glued run such as "MI-like" split by odd characters
                if end + 1 < len(tokens) and gaps[end] == "" and _kind(tokens[end + 1]) != "punct":
                    continue
                found = table.lookup(tokens[i:i + length])
                if found is not None:
                    match = (length, *found)
                    break
        if match:
            length, gid, abbrev = match
            phrase = "".join(tokens[k] + (gaps[k] if k < i + length - 1 else "") for k in range(i, i + length))
            # a term inside a longer fixed phrase belongs to it ("headache" in "worst headache of life");
            # a term that is the whole phrase ("shortness of breath") is its own unit, free to be replaced
            inside = next((ph for ph in in_phrase[i:i + length] if ph is not None), None)
            if inside is not None and in_phrase.count(inside) <= length and all(
                    ph == inside for ph in in_phrase[i:i + length]):
                inside = None
            units.append(Unit(phrase, lock=max(locks[i:i + length]), kind="word", group=gid, abbrev=abbrev,
                              pinned=length > 1 or inside is not None, phrase=inside))
            unit_gaps.append(gaps[i + length - 1])
            i += length
        else:
            units.append(Unit(tokens[i], lock=locks[i], kind=_kind(tokens[i]), phrase=in_phrase[i],
                              pinned=in_phrase[i] is not None))
            unit_gaps.append(gaps[i])
            i += 1
    return lead, units, unit_gaps


def _join(lead: str, units: list[Unit], gaps: list[str]) -> str:
    return lead + "".join(u.text + g for u, g in zip(units, gaps))


def _sentence_start(units: list[Unit], k: int, ends: frozenset = SENTENCE_ENDS) -> bool:
    return k == 0 or units[k - 1].text in ends


def match_case(original: str, replacement: str, *, sentence_start: bool, original_cased: bool) -> str:
    """Give ``replacement`` the case of ``original``: Hypertension -> High blood pressure."""
    if is_cased(replacement) or replacement[:1].isupper():
        return replacement  # abbreviations and proper names keep their own case
    if original_cased:  # an abbreviation says nothing about case, except at a sentence start
        return replacement[:1].upper() + replacement[1:] if sentence_start else replacement
    if len(original) > 1 and original.isupper():
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


# ------------------------------------------------------------------ augmenter
def example_rng(seed: int, index: int, copy: int, attempt: int = 0) -> random.Random:
    """An RNG that depends only on (seed, example index, copy number, attempt)."""
    digest = hashlib.sha256(f"ntmm-augment|{seed}|{index}|{copy}|{attempt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class Change:
    """One edit an operation made: ``synonym`` (before -> after), ``swap`` (before <-> after) or ``insert`` (after)."""

    op: str
    before: str
    after: str

    def describe(self) -> str:
        if self.op == "insert":
            return f"insert: {self.after!r}"
        arrow = "↔" if self.op == "swap" else "→"
        return f"{self.op}: {self.before!r} {arrow} {self.after!r}"


@dataclass(frozen=True)
class AugmentSample:
    """A preview row: an original text, its augmented copy and the edits that made it."""

    original: str
    augmented: str
    changes: tuple[Change, ...] = ()


class Augmenter:
    """Applies the chosen operations to one text at a time."""

    def __init__(self, p: float = DEFAULT_P, ops: Iterable[str] = AUGMENT_OPS, *,
                 synonyms_path: str | Path | None = None, fillers_path: str | Path | None = None,
                 phrases_path: str | Path | None = None):
        ops = tuple(ops)
        bad = [o for o in ops if o not in AUGMENT_OPS]
        if bad:
            raise ConfigError("data.augment_ops", f"unknown operation(s) {bad}; allowed: {list(AUGMENT_OPS)}")
        if not 0.0 < p <= 1.0:
            raise ConfigError("data.augment_p", f"{p} is out of range; allowed (0.0, 1.0]")
        self.p, self.ops = float(p), ops
        self.table = load_synonyms(str(synonyms_path) if synonyms_path else None) if "synonym" in ops else None
        self.fillers = load_fillers(str(fillers_path) if fillers_path else None) if "insert" in ops else ()
        self.phrases = load_phrases(str(phrases_path) if phrases_path else None)

    def augment(self, text: str, rng: random.Random) -> str:
        """One augmented version of ``text`` (may equal it when nothing is eligible)."""
        return self.augment_traced(text, rng)[0]

    def augment_traced(self, text: str, rng: random.Random) -> tuple[str, list[Change]]:
        """The augmented text and the edits, in the order made (the preview shows which operation did what)."""
        lead, units, gaps = _units(text, self.table, self.phrases)
        changes: list[Change] = []
        if "synonym" in self.ops:
            self._synonyms(units, rng, changes)
        if "swap" in self.ops:
            self._swap(units, gaps, rng, changes)
        if "insert" in self.ops and self.fillers:
            units, gaps = self._insert(units, gaps, rng, changes)
        return _join(lead, units, gaps), changes

    def augment_example(self, text: str, seed: int, index: int, copy: int) -> str:
        """Copy ``copy`` of example ``index``; retried a few times if it came out unchanged."""
        return self.trace_example(text, seed, index, copy).augmented

    def trace_example(self, text: str, seed: int, index: int, copy: int) -> AugmentSample:
        out, changes = text, []
        for attempt in range(MAX_ATTEMPTS):
            out, changes = self.augment_traced(text, example_rng(seed, index, copy, attempt))
            if out != text:
                break
        return AugmentSample(text, out, tuple(changes))

    # -- operations
    def _synonyms(self, units: list[Unit], rng: random.Random, changes: list[Change]) -> None:
        assert self.table is not None
        for k, u in enumerate(units):
            if u.group is None or u.lock == FROZEN or u.phrase is not None or rng.random() >= self.p:
                continue
            group = self.table.groups[u.group]
            choices = [t for t in group if t.lower() != u.text.lower()]
            if not choices:
                continue
            new = rng.choice(choices)
            old, u.text = u.text, match_case(u.text, new, sentence_start=_sentence_start(units, k, CAPITAL_ENDS),
                                             original_cased=u.abbrev)
            u.pinned = True  # a new phrase stays in place
            changes.append(Change("synonym", old, u.text))

    def _swappable(self, units: list[Unit], k: int) -> bool:
        u = units[k]
        return (u.kind == "word" and u.lock == FREE and not u.pinned and u.phrase is None
                and u.text.lower() not in FUNCTION_WORDS and not _sentence_start(units, k))

    @staticmethod
    def _item_edge(units: list[Unit], m: int) -> bool:
        """Whether ``m`` is outside a coordinated item: the text's edge, punctuation or a function word."""
        return m < 0 or m >= len(units) or units[m].kind == "punct" or units[m].text.lower() in FUNCTION_WORDS

    def _swap(self, units: list[Unit], gaps: list[str], rng: random.Random, changes: list[Change]) -> None:
        # Only "X and Y" / "X or Y" where X and Y are whole items (single words or synonym terms between
        # edges): swapping neighbours in general turns "severe headache" into "headache severe" and
        # "neck stiffness" into "stiffness neck", which is not the same note.
        for k in range(len(units) - 2):
            j = k + 2
            if units[k + 1].text.lower() not in COORDINATORS or not (self._swappable(units, k) and self._swappable(units, j)):
                continue
            if not (self._item_edge(units, k - 1) and self._item_edge(units, j + 1)) or rng.random() >= self.p:
                continue
            if any(gaps[m] == "" or "\n" in gaps[m] for m in range(k, j)):
                continue
            units[k], units[j] = units[j], units[k]
            units[k].pinned = units[j].pinned = True  # move each word at most once
            changes.append(Change("swap", units[j].text, units[k].text))

    def _insert(self, units: list[Unit], gaps: list[str], rng: random.Random,
                changes: list[Change]) -> tuple[list[Unit], list[str]]:
        out_u: list[Unit] = []
        out_g: list[str] = []
        for k, u in enumerate(units):
            if k > 0 and self._can_insert_before(units, gaps, k) and rng.random() < self.p:
                filler = rng.choice(self.fillers)
                out_u.append(Unit(filler, pinned=True))
                out_g.append(" ")
                changes.append(Change("insert", "", filler))
            out_u.append(u)
            out_g.append(gaps[k])
        return out_u, out_g

    @staticmethod
    def _can_insert_before(units: list[Unit], gaps: list[str], k: int) -> bool:
        left, right = units[k - 1], units[k]
        # only where a phrase ends (a content word, then a preposition or conjunction), separated by
        # spaces; never inside a frozen run (negation + object, number + unit), a negation's scope or a
        # fixed phrase, never before a measurement
        return (left.kind == "word" and right.kind == "word" and left.lock != FROZEN
                and left.text.lower() not in FUNCTION_WORDS and right.text.lower() in INSERT_BEFORE
                and (left.phrase is None or left.phrase != right.phrase)
                and gaps[k - 1] != "" and "\n" not in gaps[k - 1]
                and not (left.lock >= NO_MOVE and right.lock >= NO_MOVE))


# ------------------------------------------------------------------ datasets
@dataclass
class AugmentParams:
    copies: int = 0
    p: float = DEFAULT_P
    ops: tuple[str, ...] = AUGMENT_OPS

    @classmethod
    def from_any(cls, obj: Any) -> "AugmentParams":
        """From a ProjectConfig, a DataConfig, a dict or an AugmentParams."""
        if isinstance(obj, AugmentParams):
            return obj
        if isinstance(obj, dict):
            return cls(int(obj.get("copies", obj.get("augment_copies", 0))), float(obj.get("p", obj.get("augment_p", DEFAULT_P))),
                       tuple(obj.get("ops", obj.get("augment_ops", AUGMENT_OPS))))
        data = getattr(obj, "data", obj)  # ProjectConfig -> DataConfig
        return cls(int(data.augment_copies), float(data.augment_p), tuple(data.augment_ops))


def augment_dataset(texts: Sequence[str], labels: Sequence[Any], copies: int, p: float = DEFAULT_P, seed: int = 42,
                    ops: Iterable[str] = AUGMENT_OPS, *, drop_unchanged: bool = True
                    ) -> tuple[list[str], list[Any], list[int]]:
    """The originals followed by ``copies`` augmented copies of each example.

    Returns (texts, labels, source_index): ``source_index[i]`` is the index of
    the original a row came from (originals point at themselves). Labels are
    never changed. A copy identical to its original (nothing eligible to
    change) adds no information, so it is dropped unless ``drop_unchanged`` is False.
    """
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    out_t, out_l, src = list(texts), list(labels), list(range(len(texts)))
    if copies <= 0:
        return out_t, out_l, src
    aug = Augmenter(p, ops)
    for c in range(1, copies + 1):
        for i, (t, l) in enumerate(zip(texts, labels)):
            new = aug.augment_example(t, seed, i, c)
            if drop_unchanged and new == t:
                continue
            out_t.append(new)
            out_l.append(l)
            src.append(i)
    return out_t, out_l, src


def augment_split(prepared, params: Any, seed: int = 42):
    """A new PreparedData whose train split has augmented copies added; validation/test untouched.

    ``params`` is a ProjectConfig, DataConfig, dict or :class:`AugmentParams`.
    The report's class counts, ``augmentation`` note and fingerprint are
    updated, so caches keyed on the fingerprint see different data.
    """
    import datasets


    prm = AugmentParams.from_any(params)
    if prm.copies <= 0:
        return prepared
    train = prepared.splits["train"]
    texts, labels, src = augment_dataset(train["text"], train["label"], prm.copies, prm.p, seed, prm.ops)
    new_train = datasets.Dataset.from_dict({"text": texts, "label": labels}, features=train.features)
    splits = datasets.DatasetDict({**{k: v for k, v in prepared.splits.items()}, "train": new_train})
    report = _copy.deepcopy(prepared.report)
    added = len(texts) - len(train)
    names = prepared.label_names
    report.counts["train"] = {name: 0 for name in names}
    for lab in labels:
        report.counts["train"][names[lab]] += 1
    report.augmentation = {"copies": prm.copies, "p": prm.p, "ops": list(prm.ops), "seed": seed,
                           "original_rows": len(train), "added_rows": added,
                           "unchanged_dropped": prm.copies * len(train) - added,
                           "original_fingerprint": prepared.report.fingerprint}
    split_texts = {s: list(splits[s]["text"]) for s in splits}
    split_ids = {s: list(splits[s]["label"]) for s in splits}
    report.fingerprint = fingerprint(split_texts, split_ids, names)
    return PreparedData(splits, list(names), report)


def preview(texts: Sequence[str], n: int = 5, seed: int = 42, p: float = DEFAULT_P,
            ops: Iterable[str] = AUGMENT_OPS) -> list[AugmentSample]:
    """Up to ``n`` texts with an augmented copy each and the edits that made it, picked reproducibly."""
    if not texts:
        return []
    idx = list(range(len(texts)))
    if len(idx) > n:
        idx = sorted(random.Random(seed).sample(idx, n))
    aug = Augmenter(p, ops)
    return [aug.trace_example(texts[i], seed, i, 1) for i in idx]
