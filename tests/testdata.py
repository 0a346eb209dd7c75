"""Synthetic data helpers shared by the tests (imported as ``testdata``)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

# Words that decide the class of the easy synthetic task.
CLASS_WORDS = {
    "cardio": ["heart", "chest", "pressure", "cardiac", "artery"],
    "neuro": ["brain", "headache", "seizure", "nerve", "stroke"],
    "gastro": ["stomach", "liver", "bowel", "nausea", "colon"],
}
FILLER = ["patient", "reports", "with", "the", "mild", "severe", "days", "history", "of", "and", "noted", "today"]


def make_rows(n_per_class: int = 20, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for label, words in CLASS_WORDS.items():
        for _ in range(n_per_class):
            toks = [rng.choice(FILLER) for _ in range(rng.randint(4, 10))] + rng.sample(words, 2)
            rng.shuffle(toks)
            rows.append({"text": " ".join(toks), "label": label})
    rng.shuffle(rows)
    return rows


def write_csv(path: Path, rows: list[dict], fieldnames=("text", "label")) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(fieldnames))
        w.writeheader()
        w.writerows(rows)
    return path
