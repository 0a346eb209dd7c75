"""``ntmm predict``: classify texts from the command line or a file, streamed batch by batch."""

from __future__ import annotations

import itertools
import sys
from typing import Any, Iterator

from ..api import (
    UNCERTAIN,
    GoldLabels,
    Prediction,
    PredictionWriter,
    load_predictor,
    model_text_column,
    open_texts_file,
    output_extras,
    predict_rows,
)
from ..core.config import load_config
from ..core.errors import DataError, NTMMError

PRINT_LIMIT = 50  # with --out, predictions are also printed when there are at most this many


def predict_cli(args) -> int:
    """``ntmm predict``: classify texts given on the command line or in ``--file``.

    Streams: the file is read, predicted and written batch by batch, so memory
    stays flat however long the file is; progress goes to stderr on a terminal.
    The output keeps every input column and adds the prediction columns; when a
    column holds the model's classes, accuracy and macro-F1 against it are printed.
    """
    from tqdm import tqdm

    columns, text_column = ["text"], "text"
    rows: Iterator[dict[str, Any]] = iter([])
    if getattr(args, "file", None):
        # the column the model was trained on, when the file has it; else the detector training uses
        f = open_texts_file(args.file, getattr(args, "column", None), prefer=model_text_column(args.model),
                            sheet=getattr(args, "sheet", None) or "")  # reads the head: a bad file fails before the model loads
        columns, text_column, rows = f.columns, f.text_column, f.rows
    given = ({**dict.fromkeys(columns), text_column: t} for t in (getattr(args, "texts", None) or []))
    rows = itertools.chain(given, rows)
    first = next(rows, None)
    if first is None:
        raise DataError("No texts to predict.", hint="give texts as arguments or --file texts.csv")
    _check_thresholds(args)  # before the model loads: a typo should not wait for it
    predictor = load_predictor(args.model, allow_pickle=bool(getattr(args, "allow_pickle", False)))
    predictor.min_confidence = _min_confidence(args, predictor)
    explain = bool(getattr(args, "explain", False))
    batch_size = int(getattr(args, "batch_size", 32) or 32)
    out = getattr(args, "out", None)
    shown: list[tuple[str, Prediction]] = []
    writer = PredictionWriter(out, predictor.label_names, columns, extra=output_extras(predictor, explain)) if out else None
    gold = GoldLabels(columns, text_column, predictor.label_names) if getattr(args, "file", None) else None
    total = uncertain = 0
    bar = tqdm(unit=" texts", desc="predicting", file=sys.stderr, disable=None if out else True, mininterval=1.0)
    try:
        for batch, preds in predict_rows(predictor, itertools.chain([first], rows), text_column, batch_size, explain=explain):
            pairs = [(str(r.get(text_column)), p) for r, p in zip(batch, preds) if p is not None]
            if writer is not None:
                writer.write(batch, preds)
                if len(shown) <= PRINT_LIMIT:
                    shown.extend(pairs)
            else:
                for t, pr in pairs:
                    _print_prediction(t, pr)
            if gold is not None:
                gold.add(batch, preds)
            total += len(pairs)
            uncertain += sum(p.uncertain for _t, p in pairs)
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
        print(f"Wrote {writer.count} row(s) with predictions to {out}"
              + (f" ({writer.cut_cells} cell(s) cut at Excel's 32,767 characters)" if writer.cut_cells else ""), file=sys.stderr)
        if writer.count <= PRINT_LIMIT:
            for t, pr in shown:
                _print_prediction(t, pr)
    score = gold.score() if gold is not None else None
    if score is not None:
        print(score.summary(), file=sys.stderr)
    if predictor.min_confidence > 0:
        print(f"{uncertain} of {total} prediction(s) below the minimum confidence {predictor.min_confidence:.3f}: "
              f"marked '{UNCERTAIN}'", file=sys.stderr)
    return 0


def _check_thresholds(args) -> None:
    target, value = getattr(args, "target_accuracy", None), getattr(args, "min_confidence", None)
    if target is not None and not 0 < target <= 1:
        raise NTMMError(f"--target-accuracy {target}: must be above 0 and at most 1 (e.g. 0.95)")
    if value is not None and not 0 <= value <= 1:
        raise NTMMError(f"--min-confidence {value}: must be between 0 and 1 (0 = off)")


def _min_confidence(args, predictor) -> float:
    """--target-accuracy (from the model's risk-coverage curve), else --min-confidence, else predict.min_confidence
    of --config, else 0 (off)."""
    target = getattr(args, "target_accuracy", None)
    if target is not None:
        calibration = predictor.calibration
        curve = calibration.risk_coverage if calibration is not None else None
        if curve is None or not curve.thresholds:
            raise NTMMError(f"{args.model} has no risk-coverage curve (it was not calibrated by NTMM).",
                            hint="give --min-confidence instead, or retrain it with this version of NTMM")
        choice = curve.threshold_for(target)
        print(curve.describe(target), file=sys.stderr)
        if choice is None:
            raise NTMMError(f"--target-accuracy {target}: {curve.describe(target)}.", hint="choose a lower target")
        return choice[0]
    value = getattr(args, "min_confidence", None)
    if value is None and getattr(args, "config", None):
        value = load_config(args.config).predict.min_confidence  # validated there
    return float(value or 0.0)


def _print_prediction(t: str, pr: Prediction) -> None:
    snippet = t if len(t) <= 70 else t[:67] + "..."
    snippet = " ".join(snippet.split())  # one line per prediction, even for texts with newlines
    probs = "  ".join(f"{n}={p:.3f}" for n, p in sorted(pr.probabilities.items(), key=lambda kv: -kv[1]))
    print(f"{pr.label}\t{probs}\t{snippet}" + (f"\t{UNCERTAIN}" if pr.uncertain else ""))
    if pr.explanation is not None:
        print(f"  because of: {pr.explanation.summary()}")
