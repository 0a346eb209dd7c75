"""Why this label: which words of a text pushed each class, ``explain(predictor, text)``.

One :class:`Explanation` whatever the back end, scored in the model's calibrated
log-probability of each class (positive: the word pushes the text towards the
class, negative: away from it):

* **PyTorch fp32 transformers**: Integrated Gradients (captum's
  ``LayerIntegratedGradients`` on the input embeddings, from a baseline where
  every word token is ``[PAD]``), token attributions summed over each word's
  word pieces. Their sum over all tokens is ``log p(x) - log p(baseline)``
  (completeness; :attr:`Explanation.total` and ``expected_total``).
* **ONNX and PyTorch INT8** (no gradients through their graphs):
  leave-one-word-out occlusion, ``log p(text) - log p(text without the word)``,
  every class from the same batch of texts.
* **The classical baseline**: its own coefficients. A word's score is the sum of
  its n-grams' TF-IDF value times the class weight (centred over classes, so it
  is the word's share of the log-probability), a bigram split between its two words.

Words are the text's runs of letters and digits (``\\w+``) for every method, so
highlights line up whatever model made them; words past ``max_length`` tokens
(truncated, the model never saw them) get no score.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..core.errors import DataError
from ..core.results import Record
from ..reports.calibration import log_softmax
from .predictors import ClassicalPredictor, Predictor, TorchPredictor

WORD = re.compile(r"\w+")
IG_STEPS = 8  # Gauss-Legendre steps: on the 2-layer student the completeness gap was ~2e-5 at 8 (7e-6 at 16, twice the time)
# Integrated Gradients cost a pass per class explained, so they explain the classes asked for (by default the
# predicted one); occlusion and coefficients score every class at once and explain this many of the likeliest.
FREE_CLASSES = 3
MAX_OCCLUDED_WORDS = 512  # leave-one-word-out costs one forward pass per word


@dataclass
class WordAttribution(Record):
    """One word of the text (``text[start:end]``) and its score for each explained class."""

    text: str
    start: int
    end: int
    scores: list[float] = field(default_factory=list)  # in the order of Explanation.classes


@dataclass
class Explanation(Record):
    """The words of one text and how much each pushed the explained classes (predicted class first)."""

    label: str
    classes: list[str] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)  # of the explained classes (calibrated)
    words: list[WordAttribution] = field(default_factory=list)
    method: str = ""
    unit: str = "calibrated log-probability"
    truncated: bool = False  # words past max_length tokens got no score
    seconds: float = 0.0
    total: list[float] = field(default_factory=list)           # Integrated Gradients: sum over every token, per class
    expected_total: list[float] = field(default_factory=list)  # log p(text) - log p(baseline), per class

    def scores_for(self, label: str | None = None) -> list[float]:
        """Each word's score for ``label`` (default: the predicted one, or the first explained)."""
        i = self.classes.index(label or (self.label if self.label in self.classes else self.classes[0]))
        return [w.scores[i] for w in self.words]

    def top(self, label: str | None = None, k: int = 5, positive: bool = True, min_share: float = 0.02
            ) -> list[tuple[str, float]]:
        """The ``k`` words that pushed most towards ``label`` (``positive=False``: away from it), each word once;
        words under ``min_share`` of the largest push are not listed."""
        scores = self.scores_for(label)
        floor = min_share * max((abs(x) for x in scores), default=0.0)
        ranked = sorted(zip((w.text for w in self.words), scores), key=lambda x: -x[1] if positive else x[1])
        out: list[tuple[str, float]] = []
        seen: set[str] = set()
        for word, score in ranked:
            if (score <= floor if positive else score >= -floor) or word.lower() in seen:
                continue
            seen.add(word.lower())
            out.append((word, float(score)))
            if len(out) == k:
                break
        return out

    def summary(self, k: int = 5) -> str:
        """``chest (+0.82), pain (+0.41)``: the words that pushed most towards the predicted label."""
        return ", ".join(f"{w} ({s:+.2f})" for w, s in self.top(k=k)) or "(no word pushed it)"

    def merged(self, other: "Explanation") -> "Explanation":
        """This explanation with the classes of ``other`` (the same text, other classes) added after its own."""
        new = [c for c in other.classes if c not in self.classes]
        theirs = {(w.start, w.end): w.scores for w in other.words}
        idx = [other.classes.index(c) for c in new]
        words = [WordAttribution(w.text, w.start, w.end, w.scores + [theirs.get((w.start, w.end), [0.0] * len(other.classes))[i]
                                                                    for i in idx]) for w in self.words]
        extend = (lambda a, b: a + [b[i] for i in idx] if a and b else [])
        return Explanation(label=self.label, classes=self.classes + new,
                           probabilities=self.probabilities + [other.probabilities[i] for i in idx], words=words,
                           method=self.method, unit=self.unit, truncated=self.truncated or other.truncated,
                           seconds=self.seconds + other.seconds, total=extend(self.total, other.total),
                           expected_total=extend(self.expected_total, other.expected_total))


def explain(predictor: Predictor, text: str, *, classes: int | Sequence[str] = 1, method: str = "auto",
            steps: int = IG_STEPS) -> Explanation:
    """Explain ``predictor``'s prediction of ``text``: which words pushed each class.

    ``classes``: how many of the likeliest classes (Integrated Gradients explain exactly these; occlusion and
    coefficients at least :data:`FREE_CLASSES`), or the names of the classes to explain. ``method``: auto (by
    back end, see the module), integrated_gradients, occlusion or coefficients.
    """
    text = "" if text is None else str(text)
    if not text.strip():
        raise DataError("No text to explain.")
    started = time.perf_counter()
    if method == "auto":
        method = ("coefficients" if isinstance(predictor, ClassicalPredictor) else
                  "integrated_gradients" if isinstance(predictor, TorchPredictor) and predictor.kind == "pytorch"
                  and getattr(predictor.tokenizer, "is_fast", False) else "occlusion")
    runner = {"integrated_gradients": _integrated_gradients, "occlusion": _occlusion, "coefficients": _coefficients}.get(method)
    if runner is None:
        raise ValueError(f"unknown explanation method {method!r}")
    out = runner(predictor, text, classes, steps)
    if method == "integrated_gradients" and not _converged(out):
        # The straight path from the baseline crossed a region too sharp for the steps (a saturated model): the
        # attributions would not add up, so the words are scored by occlusion instead, which needs no path.
        gap = max(abs(a - b) for a, b in zip(out.total, out.expected_total))
        out = _occlusion(predictor, text, classes, steps)
        out.method += f" (integrated gradients did not add up in {steps} steps: off by {gap:.2g})"
    out.seconds = time.perf_counter() - started
    return out


# ------------------------------------------------------------------ helpers
def _words(text: str) -> list[re.Match]:
    return list(WORD.finditer(text))


def _top_classes(predictor: Predictor, log_probs: np.ndarray, k: int | Sequence[str], free: bool = False) -> list[int]:
    """The class ids to explain: the named ones, or the ``k`` likeliest (at least FREE_CLASSES when ``free``)."""
    if not isinstance(k, int):
        unknown = [c for c in k if c not in predictor.label_names]
        if unknown:
            raise ValueError(f"unknown class(es) {unknown}; the model's are {predictor.label_names}")
        return [predictor.label_names.index(c) for c in k]
    n = max(k, FREE_CLASSES) if free else k
    return [int(i) for i in np.argsort(-log_probs, kind="stable")[:max(1, min(n, len(predictor.label_names)))]]


def _result(predictor: Predictor, log_probs: np.ndarray, ids: list[int], words: list[re.Match],
            scores: np.ndarray, scored: Sequence[bool], method: str) -> Explanation:
    """``scores``: (words, len(ids)); only words with ``scored`` True are listed."""
    names = predictor.label_names
    listed = [WordAttribution(text=m.group(0), start=m.start(), end=m.end(), scores=[float(s) for s in scores[i]])
              for i, m in enumerate(words) if scored[i]]
    return Explanation(label=names[int(np.argmax(log_probs))], classes=[names[i] for i in ids],
                       probabilities=[float(np.exp(log_probs[i])) for i in ids], words=listed, method=method,
                       truncated=not all(scored))


def _window_words(predictor: Predictor, text: str, words: list[re.Match]) -> tuple[list[bool], Any]:
    """Which words lie inside the model's max_length tokens, and the fast tokenizer's encoding (or None)."""
    tok = predictor.tokenizer
    if not getattr(tok, "is_fast", False):
        return [True] * len(words), None
    enc = tok([text], truncation=True, max_length=predictor.max_length, return_offsets_mapping=True)
    spans = [(a, b) for a, b in enc["offset_mapping"][0] if b > a]
    end = max((b for _a, b in spans), default=0)
    return [m.start() < end for m in words], enc


# ------------------------------------------------------------------ integrated gradients
def _integrated_gradients(predictor: TorchPredictor, text: str, k: int | Sequence[str], steps: int) -> Explanation:
    import torch
    from captum.attr import LayerIntegratedGradients

    words = _words(text)
    tok, model, temperature = predictor.tokenizer, predictor.model, predictor.temperature
    enc = tok([text], truncation=True, max_length=predictor.max_length, return_offsets_mapping=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping")[0].tolist()
    names = list(enc.keys())  # input_ids first, then attention_mask, token_type_ids...
    ids = enc["input_ids"]
    special = torch.tensor([b <= a for a, b in offsets])  # [CLS], [SEP]: offsets (0, 0)
    baseline = ids.clone()
    baseline[0, ~special] = tok.pad_token_id if tok.pad_token_id is not None else 0

    def forward(input_ids, *rest):
        feed = dict(zip(names, (input_ids, *rest)))
        return torch.log_softmax(model(**feed).logits.float() / temperature, dim=-1)

    with predictor.lock:  # captum hooks the embedding layer: no prediction may run through it meanwhile
        for p in model.parameters():
            p.requires_grad_(False)  # gradients w.r.t. the embeddings only, not the weights
        with torch.no_grad():
            log_probs = forward(*[enc[n] for n in names])[0].numpy().astype(np.float64)
            base_lp = forward(baseline, *[enc[n] for n in names[1:]])[0].numpy().astype(np.float64)
        targets = _top_classes(predictor, log_probs, k)
        n = len(targets)
        lig = LayerIntegratedGradients(forward, model.get_input_embeddings())
        attributions = lig.attribute(ids.repeat(n, 1), baselines=baseline.repeat(n, 1),
                                     additional_forward_args=tuple(enc[name].repeat(n, 1) for name in names[1:]),
                                     target=targets, n_steps=steps, method="gausslegendre")
    per_token = attributions.sum(dim=-1).detach().numpy().astype(np.float64)  # (classes, tokens)
    word_of = _char_to_word(text, words)
    scores = np.zeros((len(words), n))
    scored = [False] * len(words)
    for t, (a, b) in enumerate(offsets):
        if b > a and word_of[a] >= 0:
            scores[word_of[a]] += per_token[:, t]
            scored[word_of[a]] = True
    out = _result(predictor, log_probs, targets, words, scores, scored,
                  f"integrated gradients on the embeddings, {steps} steps")
    out.truncated = out.truncated or bool(words and not scored[-1])
    out.total = [float(x) for x in per_token.sum(axis=1)]
    out.expected_total = [float(log_probs[c] - base_lp[c]) for c in targets]
    return out


def _converged(out: Explanation, tolerance: float = 0.25) -> bool:
    """Completeness: the token attributions add up to log p(text) - log p(baseline), within 25 % (or 0.1).

    Loose on purpose: a path that is a little too sharp for the steps still ranks the words well; a
    saturated model's path is off by several times the change, and occlusion then scores the words.
    """
    return all(abs(a - b) <= max(0.1, tolerance * abs(b)) for a, b in zip(out.total, out.expected_total))


def _char_to_word(text: str, words: list[re.Match]) -> np.ndarray:
    where = np.full(len(text) + 1, -1, dtype=np.int64)
    for i, m in enumerate(words):
        where[m.start():m.end()] = i
    return where


# ------------------------------------------------------------------ occlusion
def _occlusion(predictor: Predictor, text: str, k: int | Sequence[str], steps: int) -> Explanation:
    words = _words(text)
    inside, _enc = _window_words(predictor, text, words)
    occluded = [i for i, ok in enumerate(inside) if ok][:MAX_OCCLUDED_WORDS]
    variants = [text] + [text[:words[i].start()] + text[words[i].end():] for i in occluded]
    log_probs_all = log_softmax(predictor.logits(variants, batch_size=32) / predictor.temperature)
    log_probs = log_probs_all[0]
    targets = _top_classes(predictor, log_probs, k, free=True)
    scores = np.zeros((len(words), len(targets)))
    scored = [False] * len(words)
    for row, i in enumerate(occluded, start=1):
        scores[i] = log_probs[targets] - log_probs_all[row, targets]
        scored[i] = True
    return _result(predictor, log_probs, targets, words, scores, scored,
                   "leave-one-word-out occlusion")


# ------------------------------------------------------------------ the classical model's coefficients
def _coefficients(predictor: ClassicalPredictor, text: str, k: int | Sequence[str], steps: int) -> Explanation:
    model = predictor.model
    vec, reg = model.vectorizer, model.regression
    temperature = predictor.temperature
    log_probs = log_softmax(predictor.forward(predictor.encode([text]))[0] / temperature)
    targets = _top_classes(predictor, log_probs, k, free=True)
    # class weights over the model's output order, centred: softmax ignores what all classes share
    coef = np.zeros((len(predictor.label_names), reg.coef_.shape[1]))
    rows = reg.coef_ if reg.coef_.shape[0] > 1 else np.vstack([-reg.coef_[0] / 2, reg.coef_[0] / 2])  # binary: one row
    coef[reg.classes_.astype(int)] = rows
    coef = (coef - coef.mean(axis=0)) / temperature
    x = vec.transform([text]).tocsr()
    value = dict(zip(x.indices.tolist(), x.data.tolist()))
    vocab, prep = vec.vocabulary_, vec.build_preprocessor()
    words = _words(text)
    # the vectorizer's tokens are the preprocessed words of two or more characters (token_pattern \b\w\w+\b)
    tokens = [(i, prep(m.group(0))) for i, m in enumerate(words) if len(m.group(0)) > 1]
    occurrences: list[tuple[int, list[int]]] = []  # (feature, the words it covers)
    for j, (i, t) in enumerate(tokens):
        occurrences.append((vocab.get(t, -1), [i]))
        if j + 1 < len(tokens):
            occurrences.append((vocab.get(f"{t} {tokens[j + 1][1]}", -1), [i, tokens[j + 1][0]]))
    seen = np.bincount([f for f, _ in occurrences if f >= 0], minlength=len(vocab)) if occurrences else np.zeros(0)
    scores = np.zeros((len(words), len(targets)))
    for f, covered in occurrences:
        if f < 0 or f not in value:
            continue
        share = value[f] * coef[targets, f] / seen[f] / len(covered)  # a feature's weight, split over its occurrences
        for i in covered:
            scores[i] += share
    out = _result(predictor, log_probs, targets, words, scores, [True] * len(words),
                  "the model's own coefficients (TF-IDF x weight)")
    # completeness: the words' scores add up to the text's part (x . w_c, centred) of each class's log-probability
    out.total = [float(scores[:, j].sum()) for j in range(len(targets))]
    text_part = np.asarray(x @ coef.T).ravel()
    out.expected_total = [float(text_part[c]) for c in targets]
    return out
