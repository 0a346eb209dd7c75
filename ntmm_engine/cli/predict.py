"""``ntmm predict``: classify texts from the command line or a file, streamed batch by batch."""

from __future__ import annotations

import itertools
import sys
from typing import Iterable

from ..api import Prediction, PredictionWriter, iter_texts_file, load_predictor, model_text_column
from ..core.errors import DataError

PRINT_LIMIT = 50  # with --out, predictions are also printed when there are at most this many


def predict_cli(args) -> int:
    """``ntmm predict``: classify texts given on the command line or in ``--file``.

    Streams: the file is read, predicted and written batch by batch, so memory
    stays flat however long the file is; progress goes to stderr on a terminal.
    """
    from tqdm import tqdm

    texts: Iterable[str] = [t for t in (getattr(args, "texts", None) or [])]
    if getattr(args, "file", None):
        # the column the model was trained on, when the file has it; else the detector training uses
        texts = itertools.chain(texts, iter_texts_file(args.file, getattr(args, "column", None),
                                                       prefer=model_text_column(args.model)))
    texts = iter(texts)
    first = next(texts, None)  # reads the file's head: a bad file fails before the model loads
    if first is None:
        raise DataError("No texts to predict.", hint="give texts as arguments or --file texts.csv")
    predictor = load_predictor(args.model, allow_pickle=bool(getattr(args, "allow_pickle", False)))
    batch_size = int(getattr(args, "batch_size", 32) or 32)
    out = getattr(args, "out", None)
    shown: list[tuple[str, Prediction]] = []
    writer = PredictionWriter(out, predictor.label_names) if out else None
    bar = tqdm(unit=" texts", desc="predicting", file=sys.stderr, disable=None if out else True, mininterval=1.0)
    try:
        for batch, preds in predictor.predict_stream(itertools.chain([first], texts), batch_size=batch_size):
            if writer is not None:
                writer.write(batch, preds)
                if len(shown) <= PRINT_LIMIT:
                    shown.extend(zip(batch, preds))
            else:
                for t, pr in zip(batch, preds):
                    _print_prediction(t, pr)
            bar.update(len(batch))
        bar.close()
        if writer is not None:
            writer.close()
    except BaseException:
        bar.close()
        if writer is not None:
            writer._discard()
        raise
    if writer is not None:
        print(f"Wrote {writer.count} prediction(s) to {out}", file=sys.stderr)
        if writer.count <= PRINT_LIMIT:
            for t, pr in shown:
                _print_prediction(t, pr)
    return 0


def _print_prediction(t: str, pr: Prediction) -> None:
    snippet = t if len(t) <= 70 else t[:67] + "..."
    snippet = " ".join(snippet.split())  # one line per prediction, even for texts with newlines
    probs = "  ".join(f"{n}={p:.3f}" for n, p in sorted(pr.probabilities.items(), key=lambda kv: -kv[1]))
    print(f"{pr.label}\t{probs}\t{snippet}")
