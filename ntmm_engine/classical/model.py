"""The classical baseline: TF-IDF of word 1-2-grams and a logistic regression (scikit-learn).

It trains in seconds and, on short clinical texts, is often as good as a
fine-tuned transformer, so every comparison NTMM shows has it as a row. The
regularisation ``C`` is chosen on the validation split (macro-F1); classes
are weighted by their inverse frequency, which helps macro-F1 on imbalanced
data.

Saved without pickle: ``classical.json`` holds the vectorizer settings, the
vocabulary and the label names, ``weights.safetensors`` the idf vector and
the regression's coefficients (float64). Loading rebuilds the same
scikit-learn objects from them, so a reloaded model predicts exactly what
the trained one did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..core.errors import ModelError
from ..core.runfolder import atomic_write_json, staging_dir

FORMAT = "ntmm-tfidf-logreg-1"
MODEL_FILE = "classical.json"
WEIGHTS_FILE = "weights.safetensors"
VECTORIZER = {"ngram_range": [1, 2], "sublinear_tf": True, "strip_accents": "unicode", "lowercase": True, "min_df": 1}
C_GRID = (1.0, 3.0, 10.0)
MAX_ITER = 2000


@dataclass
class ClassicalModel:
    """A fitted TF-IDF vectorizer and logistic regression, with the names of its classes."""

    vectorizer: Any
    regression: Any
    label_names: list[str]
    C: float

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[int], label_names: Sequence[str],
            val_texts: Sequence[str] = (), val_labels: Sequence[int] = ()) -> "ClassicalModel":
        """Fit on the training texts; with validation texts, ``C`` is the one with the best validation macro-F1."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.metrics import f1_score

        vec = _vectorizer(TfidfVectorizer)
        train = vec.fit_transform(list(texts))
        val = vec.transform(list(val_texts)) if len(val_texts) else None
        best, best_f1 = None, -1.0
        for C in C_GRID if val is not None else (C_GRID[1],):
            reg = _regression(C).fit(train, np.asarray(labels))
            if val is None:
                best = reg
                break
            f1 = f1_score(np.asarray(val_labels), reg.predict(val), average="macro",
                          labels=list(range(len(label_names))), zero_division=0)
            if f1 > best_f1:
                best, best_f1 = reg, f1
        return cls(vec, best, list(label_names), float(best.C))

    # -- prediction
    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Log-probabilities (batch, classes): softmax of them gives back the model's probabilities."""
        return np.log(np.clip(self.probabilities(texts), 1e-300, None))

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        proba = self.regression.predict_proba(self.vectorizer.transform(list(texts)))
        out = np.zeros((proba.shape[0], len(self.label_names)))
        out[:, self.regression.classes_.astype(int)] = proba  # a class missing from training gets 0
        return out

    def top_terms(self, k: int = 10) -> dict[str, list[str]]:
        """The ``k`` n-grams with the largest weight for each class (what the model looks at)."""
        vocab = np.empty(len(self.vectorizer.vocabulary_), dtype=object)
        for term, i in self.vectorizer.vocabulary_.items():
            vocab[i] = term
        coef = self.regression.coef_
        if coef.shape[0] == 1:  # binary: one row, positive = the second class
            coef = np.vstack([-coef[0], coef[0]])
        out = {}
        for row, c in zip(coef, self.regression.classes_.astype(int)):
            out[self.label_names[c]] = [str(vocab[i]) for i in np.argsort(-row)[:k]]
        return out

    @property
    def parameters(self) -> int:
        return int(self.regression.coef_.size + self.regression.intercept_.size)

    # -- files
    def save(self, folder: str | Path, info: dict[str, Any] | None = None) -> Path:
        """Write the model folder atomically (staging folder renamed into place)."""
        from safetensors.numpy import save_file

        folder = Path(folder)
        with staging_dir(folder) as tmp:
            vocab = {str(k): int(v) for k, v in self.vectorizer.vocabulary_.items()}
            atomic_write_json(tmp / MODEL_FILE, {"format": FORMAT, "vectorizer": VECTORIZER, "C": self.C,
                                                 "label_names": self.label_names,
                                                 "classes": [int(c) for c in self.regression.classes_],
                                                 "vocabulary": vocab})
            save_file({"idf": np.ascontiguousarray(self.vectorizer.idf_, dtype=np.float64),
                       "coef": np.ascontiguousarray(self.regression.coef_, dtype=np.float64),
                       "intercept": np.ascontiguousarray(self.regression.intercept_, dtype=np.float64)},
                      str(tmp / WEIGHTS_FILE))
            atomic_write_json(tmp / "ntmm.json", {"role": "classical", "variant": "classical_tfidf",
                                                  "label_names": self.label_names, "parameters": self.parameters,
                                                  **(info or {})})
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "ClassicalModel":
        from safetensors import SafetensorError
        from safetensors.numpy import load_file
        from sklearn.feature_extraction.text import TfidfVectorizer

        folder = Path(folder)
        try:
            spec = json.loads((folder / MODEL_FILE).read_text(encoding="utf-8"))
            weights = load_file(str(folder / WEIGHTS_FILE))
        except (OSError, ValueError, SafetensorError) as exc:
            raise ModelError(f"{folder} is not a readable classical model: {exc}",
                             hint="run the data check (or the pipeline) again to rebuild it") from None
        if spec.get("format") != FORMAT:
            raise ModelError(f"{folder / MODEL_FILE}: unknown format {spec.get('format')!r} (expected {FORMAT}).")
        vec = _vectorizer(TfidfVectorizer, vocabulary=spec["vocabulary"])
        vec.idf_ = weights["idf"]  # sklearn's setter rebuilds the fitted transformer
        reg = _regression(float(spec["C"]))
        reg.coef_, reg.intercept_ = weights["coef"], weights["intercept"]
        reg.classes_ = np.asarray(spec["classes"])
        return cls(vec, reg, list(spec["label_names"]), float(spec["C"]))


def is_classical_folder(folder: str | Path) -> bool:
    return (Path(folder) / MODEL_FILE).is_file()


def _vectorizer(cls, **kw):
    settings = {**VECTORIZER, "ngram_range": tuple(VECTORIZER["ngram_range"]), **kw}
    return cls(dtype=np.float64, **settings)


def _regression(C: float):
    from sklearn.linear_model import LogisticRegression

    # lbfgs is deterministic; balanced class weights favour macro-F1 on imbalanced classes
    return LogisticRegression(C=C, max_iter=MAX_ITER, class_weight="balanced", solver="lbfgs")
