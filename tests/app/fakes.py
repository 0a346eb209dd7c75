"""Fake jobs and predictors for GUI tests (no model needed)."""

from __future__ import annotations

import time

from ntmm_engine.core.events import TrainLog


class FakeResult:
    def __init__(self, status: str = "completed", data: dict | None = None) -> None:
        self.status = status
        self.data = data or {}

    def to_dict(self):
        return {"status": self.status, **self.data}


def slow_job(config=None, on_event=None, cancel=None, steps: int = 200, **_):
    """Emits a TrainLog per step; stops at a step boundary when cancelled (like the Trainer)."""
    for step in range(1, steps + 1):
        if cancel.cancelled:
            return FakeResult("cancelled")
        on_event(TrainLog("teacher", step=step, max_steps=steps, loss=1.0 / step))
        time.sleep(0.01)
    return FakeResult()


class FakePrediction:
    def __init__(self, label, probabilities):
        self.label = label
        self.label_id = list(probabilities).index(label)
        self.probabilities = probabilities
        self.uncertain = False
        self.explanation = None

    @property
    def confidence(self):
        return self.probabilities[self.label]

    @property
    def extra(self):
        return {"uncertain": self.uncertain, "explanation": None}


class FakePredictor:
    """'cardio' if the text mentions the heart, else 'neuro'."""

    label_names = ["cardio", "neuro", "gastro"]
    text_column = None  # not trained by NTMM: files are read with the detected column
    calibration = None  # not calibrated by NTMM: no risk-coverage curve

    def __init__(self):
        self.min_confidence = 0.0

    def predict(self, texts, batch_size=32, on_progress=None):
        out = []
        for i, t in enumerate(texts):
            p = {"cardio": 0.8, "neuro": 0.15, "gastro": 0.05} if "heart" in t else {"cardio": 0.1, "neuro": 0.7, "gastro": 0.2}
            out.append(FakePrediction(max(p, key=p.get), p))
            if on_progress:
                on_progress(i + 1, len(texts))
        return self.mark_uncertain(out)

    def mark_uncertain(self, predictions):
        for p in predictions:
            p.uncertain = bool(self.min_confidence > 0 and p.confidence < self.min_confidence)
        return predictions
