"""Predicting labels with any model NTMM wrote: ``load_predictor(path).predict(texts)``.

One :class:`Predictor` interface over three back ends:

* ``pytorch``    - a save_pretrained classifier folder (safetensors; pickles only if allowed)
* ``torch_int8`` - an NTMM folder holding fp32 safetensors, quantized dynamically on load
* ``onnx``       - an NTMM ONNX folder (fp32 or INT8) or a ``.onnx`` file inside one

Texts are tokenized as in training (truncation at ``max_length`` from
``ntmm.json``, dynamic padding per batch) and run in batches, so memory stays
bounded however many texts come in (:meth:`Predictor.predict_stream`). The
optimize and benchmark jobs use the same predictors, so what they measure is
what users run.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..classical.model import MODEL_FILE as CLASSICAL_FILE
from ..classical.model import WEIGHTS_FILE as CLASSICAL_WEIGHTS
from ..classical.model import ClassicalModel, is_classical_folder
from ..core.errors import DataError, ModelError, NTMMError
from ..core.models import check_model_folder, count_parameters, load_classifier, load_tokenizer
from ..reports.calibration import Calibration, calibrated_probabilities, valid_temperature
from .torch_int8 import TorchInt8Unavailable, quantize_dynamic_int8, state_dict_bytes

NTMM_JSON = "ntmm.json"


ONNX_NAMES = ("model.onnx", "model_quantized.onnx")


PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")


MAX_LENGTH_CAP = 512


UNCERTAIN = "uncertain — review"  # how a prediction below the min confidence is marked (Predict step, ntmm predict)


@dataclass
class Prediction:
    """One text's label with the (calibrated) probability of each class."""

    label: str
    label_id: int
    probabilities: dict[str, float]
    uncertain: bool = False  # the top probability is below the predictor's min_confidence: "uncertain — review"
    explanation: Any = None  # an :class:`~ntmm_engine.inference.explain.Explanation`, when one was asked for

    @property
    def confidence(self) -> float:
        """The probability of the predicted label."""
        return float(self.probabilities.get(self.label, 0.0))

    @property
    def extra(self) -> dict[str, Any]:
        """Values the batch writers can add as ``pred_<name>`` columns."""
        return {"uncertain": self.uncertain,
                "explanation": self.explanation.summary() if self.explanation is not None else None}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_ntmm_json(folder: str | Path) -> dict[str, Any]:
    """The ``ntmm.json`` NTMM writes beside every model ({} when absent or unreadable)."""
    p = Path(folder) / NTMM_JSON
    if not p.is_file():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{p} is not valid JSON: {exc}") from None
    return data if isinstance(data, dict) else {}


def model_text_column(path: str | Path) -> str | None:
    """The text column a model folder (or an .onnx file in one) was trained on, read from its ntmm.json.

    Cheap (no model is loaded), so a file to predict can be read before the model loads.
    """
    p = Path(path).expanduser()
    folder = p.parent if p.is_file() else p
    try:
        column = read_ntmm_json(folder).get("text_column")
    except ModelError:
        return None
    return column if isinstance(column, str) and column else None


# ---------------------------------------------------------------- predictors
class Predictor:
    """Base class: tokenization, batching and probabilities; subclasses run the model."""

    kind = "?"

    def __init__(self, path: Path, tokenizer, label_names: list[str], max_length: int, info: dict[str, Any]):
        self.path = Path(path)
        self.tokenizer = tokenizer
        self.label_names = list(label_names)
        self.max_length = int(max_length)
        self.info = info  # the folder's ntmm.json ({} for foreign folders)
        # Predictions whose top probability is below this are marked uncertain (0 = off); set by the caller
        # from predict.min_confidence (the Predict step, ntmm predict --min-confidence).
        self.min_confidence = 0.0
        # Explanations hook into the model (captum); predictions in another thread wait for them.
        self.lock = threading.RLock()

    @property
    def temperature(self) -> float:
        """The calibration temperature from ntmm.json (1 = none): probabilities are softmax(logits / T)."""
        return valid_temperature(self.info.get("temperature"))

    @property
    def calibration(self) -> Calibration | None:
        """The model's calibration record (scores before/after, risk–coverage on validation), if NTMM calibrated it."""
        data = self.info.get("calibration")
        try:
            c = Calibration.from_dict(data) if isinstance(data, dict) else None
        except (TypeError, ValueError):
            return None
        return c if c is not None and c.well_formed() else None

    @property
    def text_column(self) -> str | None:
        """The data column the model was trained on (from ntmm.json), if NTMM trained it."""
        return model_text_column(self.path)

    # -- to implement
    def forward(self, encoded: dict[str, np.ndarray]) -> np.ndarray:
        """Logits (batch, num_labels) for one tokenized batch."""
        raise NotImplementedError

    def parameter_count(self) -> int:
        raise NotImplementedError

    def set_threads(self, threads: int) -> None:
        """Intra-op threads for this predictor (0 = library default)."""

    # -- shared
    def encode(self, texts: Sequence[str], *, max_length: int | None = None, pad_to_max: bool = False) -> dict[str, np.ndarray]:
        enc = self.tokenizer(list(texts), truncation=True, max_length=max_length or self.max_length,
                             padding="max_length" if pad_to_max else True, return_tensors="np")
        return {k: np.asarray(v, dtype=np.int64) for k, v in enc.items()}

    def logits(self, texts: Sequence[str], batch_size: int = 32,
               on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Logits for all texts, computed ``batch_size`` texts at a time."""
        texts = _check_texts(texts)
        if batch_size < 1:
            raise NTMMError(f"batch_size must be at least 1, got {batch_size}")
        out = []
        for start in range(0, len(texts), batch_size):
            out.append(self.forward(self.encode(texts[start:start + batch_size])))
            if on_progress is not None:
                on_progress(min(start + batch_size, len(texts)), len(texts))
        return np.concatenate(out, axis=0)

    def predict(self, texts: Sequence[str], batch_size: int = 32,
                on_progress: Callable[[int, int], None] | None = None) -> list[Prediction]:
        """Label and class probabilities for each text, in input order."""
        return self.to_predictions(self.logits(texts, batch_size, on_progress))

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of a (batch, num_labels) logit array: the one place every back end's
        logits are divided by the model's temperature (the bundle's predict.py does the same)."""
        return calibrated_probabilities(logits, self.temperature)

    def to_predictions(self, logits: np.ndarray) -> list[Prediction]:
        """Turn a (batch, num_labels) logit array into :class:`Prediction` objects."""
        probs = self.probabilities(logits)
        names = self.label_names
        return self.mark_uncertain([Prediction(label=names[int(i)], label_id=int(i),
                                               probabilities={n: float(p) for n, p in zip(names, row)})
                                    for i, row in zip(probs.argmax(axis=-1), probs)])

    def mark_uncertain(self, predictions: list[Prediction]) -> list[Prediction]:
        """Mark (in place) the predictions whose top probability is below :attr:`min_confidence` (strictly: a
        prediction exactly at the threshold is kept, as the risk–coverage curve counts it); returns them."""
        threshold = float(self.min_confidence or 0.0)
        for p in predictions:
            if p is not None:
                p.uncertain = bool(threshold > 0 and p.confidence < threshold)
        return predictions

    def predict_stream(self, texts: Iterable[str], batch_size: int = 32) -> Iterator[tuple[list[str], list[Prediction]]]:
        """Predict an iterable of any length batch by batch: yields ``(texts, predictions)`` per batch.

        Only one batch is held in memory, so a file of millions of texts can be
        streamed through (see :func:`iter_texts_file` and :class:`PredictionWriter`).
        """
        if batch_size < 1:
            raise NTMMError(f"batch_size must be at least 1, got {batch_size}")
        it = iter([texts] if isinstance(texts, str) else texts)
        while True:
            batch = ["" if t is None else str(t) for t in itertools.islice(it, batch_size)]
            if not batch:
                return
            yield batch, self.to_predictions(self.forward(self.encode(batch)))

    def weights_bytes(self) -> int:
        """Bytes of weight files on disk (safetensors / pickles / .onnx + external data)."""
        files = [f for f in self.path.iterdir() if f.is_file() and (f.suffix in (".safetensors", ".onnx", ".onnx_data") or f.suffix in PICKLE_SUFFIXES)]
        return int(sum(f.stat().st_size for f in files))

    def folder_bytes(self) -> int:
        return int(sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file()))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} {self.path} labels={self.label_names}>"


class TorchPredictor(Predictor):
    """A transformers classifier on CPU (``pytorch``), optionally INT8-quantized (``torch_int8``)."""

    def __init__(self, path, tokenizer, label_names, max_length, info, model, *, kind: str, parameters: int):
        super().__init__(path, tokenizer, label_names, max_length, info)
        self.model = model.eval()
        self.kind = kind
        self._parameters = parameters

    def forward(self, encoded):
        import torch

        with self.lock, torch.inference_mode():
            feed = {k: torch.from_numpy(v) for k, v in encoded.items()}
            return self.model(**feed).logits.float().numpy()

    def parameter_count(self) -> int:
        return self._parameters

    def set_threads(self, threads: int) -> None:
        import torch
        if threads > 0:
            torch.set_num_threads(threads)  # process-wide: torch has no per-model setting

    def quantized_state_bytes(self) -> int:
        return state_dict_bytes(self.model)


class OnnxPredictor(Predictor):
    """An ONNX Runtime CPU session over a ``.onnx`` file."""

    kind = "onnx"

    def __init__(self, path, tokenizer, label_names, max_length, info, onnx_file: Path, threads: int = 0):
        super().__init__(path, tokenizer, label_names, max_length, info)
        self.onnx_file = Path(onnx_file)
        self.threads = threads
        self.session = self._session(threads)
        self.input_names = [i.name for i in self.session.get_inputs()]

    def _session(self, threads: int):
        import onnxruntime as ort

        so = ort.SessionOptions()
        # ORT_ENABLE_ALL fuses attention/layer-norm at load; measured as fast or faster than
        # BASIC on fp32 and INT8 students, and it keeps the saved graph portable.
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = max(int(threads), 0)
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        try:
            return ort.InferenceSession(str(self.onnx_file), so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # InvalidProtobuf, Fail, NoSuchFile... all mean a bad file
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{self.onnx_file} is not a usable ONNX model (damaged, truncated or not ONNX): {first[:300]}",
                             hint="re-run optimize to rebuild it") from None

    def forward(self, encoded):
        batch = next(iter(encoded.values())).shape
        feed = {}
        for name in self.input_names:
            if name in encoded:
                feed[name] = encoded[name]
            elif name == "token_type_ids":  # some tokenizers omit it; BERT graphs still take it
                feed[name] = np.zeros(batch, dtype=np.int64)
            else:
                raise ModelError(f"{self.onnx_file} needs input '{name}', which the tokenizer does not produce.")
        return np.asarray(self.session.run(None, feed)[0], dtype=np.float32)

    def set_threads(self, threads: int) -> None:
        if threads != self.threads:
            self.threads = threads
            self.session = self._session(threads)

    def parameter_count(self) -> int:
        if isinstance(self.info.get("parameters"), int):
            return int(self.info["parameters"])
        return onnx_parameter_count(self.onnx_file)


class ClassicalPredictor(Predictor):
    """The TF-IDF + logistic regression baseline: texts in, no tokenizer (the vectorizer splits the words)."""

    kind = "classical"

    def __init__(self, path, info, model):
        super().__init__(path, None, model.label_names, 0, info)
        self.model = model

    def encode(self, texts: Sequence[str], *, max_length: int | None = None, pad_to_max: bool = False) -> dict[str, Any]:
        return {"texts": list(texts)}  # vectorizing is part of the model (forward), as it is for a deployment

    def forward(self, encoded) -> np.ndarray:
        return self.model.logits(encoded["texts"])

    def parameter_count(self) -> int:
        return self.model.parameters

    def weights_bytes(self) -> int:
        return int(sum(f.stat().st_size for f in self.path.iterdir() if f.name in (CLASSICAL_FILE, CLASSICAL_WEIGHTS)))


def onnx_parameter_count(onnx_file: str | Path) -> int:
    """Elements of the graph's weight initializers (scales and zero points of INT8 graphs excluded)."""
    import onnx

    model = onnx.load(str(onnx_file), load_external_data=False)
    total = 0
    for init in model.graph.initializer:
        n = int(np.prod(init.dims)) if len(init.dims) else 1
        if n > 1:  # skip scalars: constants, scales, zero points
            total += n
    return total


# ---------------------------------------------------------------- loading
def load_predictor(path: str | Path, *, allow_pickle: bool = False, threads: int = 0) -> Predictor:
    """Open any model NTMM wrote, or a compatible save_pretrained classifier folder.

    ``path`` may be a model folder, an ONNX folder, or a ``.onnx`` file inside
    one. Raises :class:`ModelError` with a plain message for anything else.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelError(f"Model not found: {p}")
    onnx_file: Path | None = None
    if p.is_file():
        if p.suffix.lower() != ".onnx":
            raise ModelError(f"{p} is a file but not an .onnx model.", hint="pass the model folder or its .onnx file")
        onnx_file, folder = p, p.parent
    else:
        folder = p
    info = read_ntmm_json(folder)
    variant = str(info.get("variant", ""))
    if onnx_file is None and is_classical_folder(folder):
        return ClassicalPredictor(folder, info, ClassicalModel.load(folder))
    has_config = (folder / "config.json").is_file()
    if onnx_file is None and (variant.startswith("onnx") or not has_config or not any(folder.glob("*.safetensors"))):
        onnx_file = _find_onnx(folder)
        if onnx_file is None and variant.startswith("onnx"):
            raise ModelError(f"{folder} is an ONNX model folder ({variant}), but its .onnx file is missing.",
                             hint="re-run optimize to rebuild it")
    if onnx_file is None and not has_config:
        raise ModelError(f"{folder} is not a model folder: it has neither config.json nor a .onnx file.",
                         hint="pick a folder written by NTMM or by save_pretrained")
    if onnx_file is not None:
        _sniff_onnx(onnx_file)  # before the tokenizer: the file itself is the first thing to be wrong
    tokenizer = _load_tokenizer(folder)
    max_length = _max_length(info, tokenizer)
    if onnx_file is not None:
        labels = _label_names(folder, info, None)
        pred: Predictor = OnnxPredictor(folder, tokenizer, labels, max_length, info, onnx_file, threads=threads)
        n = _onnx_num_labels(pred)
        if not labels:
            pred.label_names = [f"LABEL_{i}" for i in range(n)]
        elif n and n != len(labels):
            raise ModelError(f"{onnx_file} has {n} outputs but names {len(labels)} labels in ntmm.json/config.json.")
        return pred
    model, parameters = _load_torch_model(folder, allow_pickle)
    labels = _label_names(folder, info, model.config)
    if len(labels) != model.config.num_labels:
        raise ModelError(f"{folder} has {model.config.num_labels} outputs but names {len(labels)} labels in ntmm.json/config.json.")
    if variant == "torch_int8":
        try:
            model = quantize_dynamic_int8(model)
        except TorchInt8Unavailable as exc:
            raise ModelError(f"{folder} is a torch_int8 model, but {exc}",
                             hint="use the ONNX INT8 variant, or load the fp32 student instead") from None
        kind = "torch_int8"
    else:
        kind = "pytorch"
    return TorchPredictor(folder, tokenizer, labels, max_length, info, model, kind=kind, parameters=parameters)


def _sniff_onnx(onnx_file: Path) -> None:
    """Cheap early check that a .onnx file is binary protobuf, not text, an archive or a pickle.

    Catches the common mix-ups (a Git LFS pointer, an HTML error page, a
    renamed file) with a plain message; anything subtler is left to ONNX
    Runtime, which reports it when the session is created.
    """
    with open(onnx_file, "rb") as fh:
        head = fh.read(512)
    if not head:
        raise ModelError(f"{onnx_file} is empty, not an ONNX model.", hint="re-run optimize to rebuild it")
    texty = all(32 <= b < 127 or b in (9, 10, 13) for b in head)
    if texty or head.startswith((b"PK", b"\x80", b"\x89HDF")):
        what = ("a Git LFS pointer" if head.startswith(b"version https://git-lfs") else
                "text" if texty else "a zip archive" if head.startswith(b"PK") else
                "a Python pickle" if head.startswith(b"\x80") else "an HDF5 file")
        raise ModelError(f"{onnx_file} is not an ONNX model (it is {what}).",
                         hint="pick the model.onnx that NTMM's optimize step wrote, or re-run optimize")


def _find_onnx(folder: Path) -> Path | None:
    for name in ONNX_NAMES:
        if (folder / name).is_file():
            return folder / name
    found = sorted(folder.glob("*.onnx"))
    return found[0] if found else None


def _load_tokenizer(folder: Path):
    try:
        return load_tokenizer(str(folder))
    except ModelError:
        raise
    except Exception as exc:  # a damaged tokenizer.json, an unknown tokenizer class...
        raise ModelError(f"The tokenizer in {folder} cannot be loaded: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def _max_length(info: dict[str, Any], tokenizer) -> int:
    if isinstance(info.get("max_length"), int) and info["max_length"] > 0:
        return int(info["max_length"])
    tml = getattr(tokenizer, "model_max_length", None) or MAX_LENGTH_CAP
    return int(min(tml, MAX_LENGTH_CAP))  # "unlimited" tokenizers report 1e30


def _label_names(folder: Path, info: dict[str, Any], config) -> list[str]:
    if isinstance(info.get("label_names"), list) and info["label_names"]:
        return [str(x) for x in info["label_names"]]
    if config is None and (folder / "config.json").is_file():
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            config = None
    id2label = config.get("id2label") if isinstance(config, dict) else getattr(config, "id2label", None)
    if id2label:
        return [str(id2label[k]) for k in sorted(id2label, key=lambda k: int(k))]
    return []


def _onnx_num_labels(pred: OnnxPredictor) -> int:
    shape = pred.session.get_outputs()[0].shape
    if shape and isinstance(shape[-1], int):
        return shape[-1]
    try:  # symbolic output width: run one tiny input
        return int(pred.forward(pred.encode(["x"])).shape[-1])
    except Exception as exc:
        raise ModelError(f"{pred.onnx_file} does not run on tokenized text: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def _load_torch_model(folder: Path, allow_pickle: bool):
    """Load a classifier from safetensors, or from a pickle with ``weights_only=True`` if allowed."""
    _check_is_classifier(folder)
    has_st = any(folder.glob("*.safetensors"))
    pickles = [f for f in folder.iterdir() if f.suffix in PICKLE_SUFFIXES]
    if not has_st and pickles and allow_pickle:
        model = _load_pickled(folder)
    else:
        check_model_folder(folder)  # refuses pickle-only folders with a clear message
        model = load_classifier(str(folder))
    return model, count_parameters(model)


def _check_is_classifier(folder: Path) -> None:
    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder / 'config.json'} is not valid JSON: {exc}") from None
    archs = cfg.get("architectures") or []
    if archs and not any("SequenceClassification" in a for a in archs):
        raise ModelError(f"{folder} holds a {', '.join(archs)}, not a text classifier: its classification head would be random.",
                         hint="fine-tune it first (ntmm teacher) and predict with the result")


def _load_pickled(folder: Path):
    from transformers import AutoModelForSequenceClassification

    # transformers loads .bin files with torch.load(weights_only=True): tensors only, no code.
    try:
        return AutoModelForSequenceClassification.from_pretrained(str(folder), use_safetensors=False, weights_only=True)
    except Exception as exc:
        raise ModelError(f"The pickled weights in {folder} cannot be loaded safely (weights_only=True): "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def _check_texts(texts: Sequence[str] | Iterable[str]) -> list[str]:
    if isinstance(texts, str):
        texts = [texts]
    texts = ["" if t is None else str(t) for t in texts]
    if not texts:
        raise DataError("No texts to predict.")
    if all(not t.strip() for t in texts):
        raise DataError(f"All {len(texts)} text(s) to predict are blank.")
    return texts


# ---------------------------------------------------------------- labels
def is_generic_labels(names: Sequence[str]) -> bool:
    import re
    return all(re.fullmatch(r"LABEL_\d+", str(n)) for n in names)


def label_order(model_labels: Sequence[str], data_labels: Sequence[str], *, model: str = "the model") -> list[int]:
    """For each data label id, the model output index that predicts it.

    Matches by name; a model with generic names (LABEL_0, ...) and as many
    outputs as there are classes is taken to use the data's order.
    """
    model_labels, data_labels = [str(x) for x in model_labels], [str(x) for x in data_labels]
    if model_labels == data_labels:
        return list(range(len(data_labels)))
    if len(model_labels) == len(data_labels) and set(model_labels) == set(data_labels):
        return [model_labels.index(n) for n in data_labels]
    if len(model_labels) == len(data_labels) and is_generic_labels(model_labels):
        return list(range(len(data_labels)))
    raise NTMMError(f"The labels of {model} ({', '.join(model_labels[:20])}) do not match the data's labels "
                    f"({', '.join(data_labels[:20])}).",
                    hint="use the data the model was trained on, or a model trained on this data")
