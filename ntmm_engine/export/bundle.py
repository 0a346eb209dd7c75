"""A deployable bundle of one model: a folder that runs with onnxruntime, tokenizers and numpy only.

``export_bundle(model, out)`` writes::

    out/
      model.onnx          the ONNX model (an NTMM ONNX folder's own, or exported from a PyTorch folder)
      tokenizer.json      the model's tokenizer, exactly as NTMM's predictor uses it
      ntmm_bundle.json    labels, max_length, padding, the calibration temperature (when the model has one)
      predict.py          a small script and class (ntmm_engine/export/standalone_predict.py)
      requirements.txt    onnxruntime, tokenizers, numpy, pinned to the versions the bundle was checked with
      README.md           the model card: what it is, how to run it, the model's own card

Before the folder is moved into place, the bundle's own code predicts a few texts in this process and
its logits are compared with NTMM's predictor: a bundle that would not give the labels of ``ntmm predict``
is never written.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..core.errors import ModelError, NTMMError
from ..core.results import Record
from ..core.runfolder import atomic_write_json, atomic_write_text, staging_dir
from ..inference.predictors import OnnxPredictor, Predictor, load_predictor
from .onnx import export_onnx

BUNDLE_FILE = "ntmm_bundle.json"  # standalone_predict.CONFIG (that module imports onnxruntime: loaded only to export)
REQUIREMENTS = ("onnxruntime", "tokenizers", "numpy")
CHECK_TEXTS = ("67 yo male with crushing chest pain radiating to the jaw, ST elevation on the ECG.",
               "Severe headache and neck stiffness since this morning; photophobia.",
               "Nausea, vomiting and right upper quadrant pain after fatty meals.",
               "Routine follow-up, no complaints.")
MAX_LOGIT_DIFF = 1e-4  # the bundle's logits against NTMM's predictor (same graph, same tokens: ~1e-6)


@dataclass
class BundleResult(Record):
    """What ``export_bundle`` wrote."""

    folder: str
    source: str
    variant: str
    labels: list[str] = field(default_factory=list)
    max_length: int = 0
    temperature: float | None = None
    files: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    max_logit_diff: float = 0.0

    def summary_text(self) -> str:
        return "\n".join([
            f"Bundle written to {self.folder} ({self.variant}, {len(self.labels)} classes, max_length {self.max_length}"
            + (f", temperature {self.temperature:g}" if self.temperature else "") + ")",
            f"Checked: its logits match NTMM's predictor within {self.max_logit_diff:.1e} on {len(CHECK_TEXTS)} texts",
            f"Run it:  pip install -r {self.folder}/requirements.txt && python {self.folder}/predict.py \"some text\""])


def export_bundle(model: str | Path, out: str | Path, *, opset: int = 17,
                  on_progress: Callable[[str], None] | None = None) -> BundleResult:
    """Write the deployable bundle of ``model`` (an NTMM model folder or .onnx file) into the folder ``out``."""
    say = on_progress or (lambda _m: None)
    out = Path(out).expanduser().resolve()
    _check_target(out)
    say("loading the model")
    predictor = load_predictor(model)
    if predictor.kind == "torch_int8":
        raise ModelError(f"{predictor.path} is a PyTorch INT8 model, which has no ONNX form with the same predictions.",
                         hint="export the ONNX INT8 variant (student_onnx_int8), or the fp32 student")
    if not getattr(predictor.tokenizer, "is_fast", False):
        raise ModelError(f"{predictor.path}: the tokenizer has no tokenizer.json (it is not a fast tokenizer), "
                         "which the bundle needs to run without transformers.")
    from . import standalone_predict

    with staging_dir(out) as tmp:
        say("writing the ONNX model")
        _write_onnx(predictor, tmp, opset)
        predictor.tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        config = _bundle_config(predictor, model)
        atomic_write_json(tmp / BUNDLE_FILE, config)
        shutil.copy2(standalone_predict.__file__, tmp / "predict.py")
        requirements = [f"{name}=={_version(name)}" for name in REQUIREMENTS]
        atomic_write_text(tmp / "requirements.txt", "\n".join(requirements) + "\n")
        say("checking the bundle against NTMM's predictor")
        diff = _check(predictor, tmp)
        result = BundleResult(folder=str(out), source=str(Path(model).expanduser().resolve()), variant=config["variant"],
                              labels=config["labels"], max_length=config["max_length"], temperature=config["temperature"],
                              requirements=requirements, max_logit_diff=diff)
        atomic_write_text(tmp / "README.md", _card(predictor, result, tmp))
        result.files = sorted(p.name for p in tmp.iterdir())
    return result


def _check_target(out: Path) -> None:
    """An empty or new folder, or an earlier bundle (replaced whole); never a folder holding other things."""
    if out.exists() and not out.is_dir():
        raise NTMMError(f"--out {out} is a file, not a folder.", hint="name a new folder, e.g. bundle/")
    if out.is_dir() and any(out.iterdir()) and not (out / BUNDLE_FILE).is_file():
        raise NTMMError(f"--out {out} is not empty and holds no NTMM bundle; exporting would replace what is in it.",
                        hint="name a new or empty folder, e.g. bundle/")


def _write_onnx(predictor: Predictor, tmp: Path, opset: int) -> None:
    if isinstance(predictor, OnnxPredictor):
        src = predictor.onnx_file
        shutil.copy2(src, tmp / "model.onnx")
        for data in src.parent.glob(f"{src.name}_data"):  # weights stored beside the graph (models over 2 GB)
            shutil.copy2(data, tmp / data.name.replace(src.name, "model.onnx"))
        return
    export_dir = tmp / ".onnx_export"
    export_onnx(predictor.path, export_dir, opset=opset)
    for f in export_dir.glob("model.onnx*"):
        shutil.move(str(f), tmp / f.name)
    shutil.rmtree(export_dir)


def _bundle_config(predictor: Predictor, model: str | Path) -> dict[str, Any]:
    tok = predictor.tokenizer
    temperature = predictor.info.get("temperature")  # written by calibration; dividing the logits by it
    if not (isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and temperature > 0):
        temperature = None
    return {"format": 1, "model": "model.onnx", "labels": list(predictor.label_names), "max_length": predictor.max_length,
            "pad_id": int(tok.pad_token_id if tok.pad_token_id is not None else 0), "pad_token": str(tok.pad_token or "[PAD]"),
            "batch_size": 32, "temperature": float(temperature) if temperature else None,
            "variant": str(predictor.info.get("variant") or predictor.info.get("role") or predictor.kind),
            "text_column": predictor.info.get("text_column"), "source": str(Path(model).expanduser().resolve()),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")}


def _check(predictor: Predictor, folder: Path) -> float:
    """The largest logit difference between the bundle's code and NTMM's predictor on CHECK_TEXTS."""
    from . import standalone_predict

    ours = predictor.logits(list(CHECK_TEXTS))
    theirs = standalone_predict.Bundle(folder).logits(list(CHECK_TEXTS))
    diff = float(np.max(np.abs(ours - theirs)))
    if not diff <= MAX_LOGIT_DIFF:
        raise ModelError(f"The bundle of {predictor.path} does not reproduce NTMM's predictions (logits differ by {diff:.2e}).",
                         hint="this is a bug in the export: please report it with the model's ntmm.json")
    return diff


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        raise NTMMError(f"{dist} is not installed, so the bundle's requirements cannot be pinned.",
                        hint=f"pip install {dist}") from None


def _card(predictor: Predictor, r: BundleResult, folder: Path) -> str:
    digest = hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
    source_card = predictor.path / "README.md"
    lines = [f"# NTMM bundle: {Path(r.source).name}", "",
             "A deployable copy of an NTMM text classifier. It needs only `onnxruntime`, `tokenizers` and `numpy` "
             "(pinned in `requirements.txt`); no torch, transformers or NTMM.", "",
             "```bash", "pip install -r requirements.txt", 'python predict.py "72 yo male, crushing chest pain, ST elevation"',
             "python predict.py --file notes.txt --json   # one text a line", "```", "",
             "From Python: `from predict import Bundle; Bundle().predict([\"some text\"])`.", "",
             "| | |", "|---|---|",
             f"| source model | `{r.source}` ({r.variant}) |",
             f"| classes | {', '.join(r.labels)} |",
             f"| tokens | truncated at {r.max_length}; padded to the longest text of each batch of 32 |",
             f"| calibration | {'logits divided by temperature ' + format(r.temperature, 'g') if r.temperature else 'none (temperature 1)'} |",
             f"| checked | logits equal NTMM's predictor within {r.max_logit_diff:.1e} |",
             f"| requirements | {', '.join(r.requirements)} |",
             f"| model.onnx SHA-256 | `{digest}` |"]
    lines += ["", "NTMM's models are research tools, not medical devices: validate on your own data before any use "
              "that matters."]
    if source_card.is_file():
        own = source_card.read_text(encoding="utf-8")
        lines += ["", "## The model's own card", "", "\n".join(("#" + ln) if ln.startswith("#") else ln for ln in own.splitlines())]
    return "\n".join(lines) + "\n"
