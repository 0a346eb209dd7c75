"""ONNX export (optimum) and ONNX Runtime dynamic INT8 quantization.

Export goes through ``optimum.exporters.onnx.main_export`` with dynamic
batch and sequence axes. Quantization is ONNX Runtime's
``quantize_dynamic`` on MatMul *and* Gather: in a 2-layer student the
word-embedding matrix (read by Gather) is most of the file, so leaving it in
fp32 would hardly shrink the model.

Graph fusion is deliberately left to ONNX Runtime at load time
(``ORT_ENABLE_ALL``, see :mod:`ntmm_engine.predict`): fusing before
quantizing (onnxruntime.transformers optimizer) turns Gather/MatMul into
EmbedLayerNormalization/Attention nodes that quantize_dynamic leaves in
fp32 (a MiniLM-L6 came out 66 MB instead of 23 MB), and ORT's
``quant_pre_process`` fails symbolic shape inference on optimum's BERT graph.
"""

from __future__ import annotations

import logging
import platform
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..core.errors import ModelError

QUANT_OP_TYPES = ("MatMul", "Gather")


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json",
                   "spiece.model", "sentencepiece.bpe.model", "vocab.json", "merges.txt", "added_tokens.json")


def cpu_quant_profile() -> dict[str, Any]:
    """The INT8 settings this CPU wants, as optimum's AutoQuantizationConfig would choose them.

    x86 CPUs without VNNI compute u8 x s8 products with VPMADDUBSW, which can
    saturate; ONNX Runtime's advice is 7-bit weights (``reduce_range``) there.
    VNNI x86 and ARM64 use the full 8-bit range.
    """
    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64") or machine.startswith("arm"):
        return {"profile": "arm64", "reduce_range": False}
    flags = _cpu_flags()
    if "avx512_vnni" in flags or "avx_vnni" in flags:
        return {"profile": "avx512_vnni", "reduce_range": False}
    if "avx512f" in flags:
        return {"profile": "avx512", "reduce_range": True}
    return {"profile": "avx2", "reduce_range": True}


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()  # unknown (macOS/Windows): assume no VNNI, the safe choice


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's tracer warnings and optimum/ORT log chatter."""
    loggers = [logging.getLogger(n) for n in ("optimum", "root", "onnxruntime", "transformers")]
    levels = [lg.level for lg in loggers]
    from transformers.utils import logging as hf_logging
    hf_level = hf_logging.get_verbosity()
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        hf_logging.set_verbosity_error()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lvl in zip(loggers, levels):
            lg.setLevel(lvl)
        hf_logging.set_verbosity(hf_level)


def export_onnx(model_dir: str | Path, out_dir: str | Path, *, opset: int = 17) -> Path:
    """Export a classifier folder to ``out_dir/model.onnx`` (+ config and tokenizer); returns the file.

    ``out_dir`` should be a staging folder: nothing here is atomic.
    """
    from optimum.exporters.onnx import main_export

    out_dir = Path(out_dir)
    try:
        with _quiet():
            # library_name: a folder may also hold sentence-transformers files, which would
            # otherwise make optimum export a sentence-embedding model, not the classifier.
            main_export(model_name_or_path=str(model_dir), output=out_dir, task="text-classification", opset=opset,
                        library_name="transformers", local_files_only=True, do_validation=False)
    except Exception as exc:
        raise ModelError(f"ONNX export of {model_dir} failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                         hint="try another optimize.opset, or use the PyTorch variants") from exc
    onnx_file = out_dir / "model.onnx"
    if not onnx_file.is_file():
        raise ModelError(f"ONNX export of {model_dir} wrote no model.onnx into {out_dir}.")
    copy_tokenizer_files(model_dir, out_dir)
    return onnx_file


def quantize_onnx(src: str | Path, dst: str | Path, *, per_channel: bool = False) -> dict[str, Any]:
    """Dynamic INT8 quantization of MatMul and Gather weights; returns the settings used."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    profile = cpu_quant_profile()
    # ORT stores MatMul weights as int8 but Gather tables (embeddings) with its activation type, uint8.
    settings = {"op_types": list(QUANT_OP_TYPES), "per_channel": bool(per_channel),
                "weights": "int8 (MatMul), uint8 (Gather/embeddings)", "activations": "dynamic uint8", **profile}
    try:
        with _quiet():
            quantize_dynamic(str(src), str(dst), op_types_to_quantize=list(QUANT_OP_TYPES), per_channel=per_channel,
                             reduce_range=profile["reduce_range"], weight_type=QuantType.QInt8)
    except Exception as exc:
        raise ModelError(f"ONNX INT8 quantization of {src} failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    return settings


def copy_tokenizer_files(src: str | Path, dst: str | Path) -> None:
    """Make sure ``dst`` holds the tokenizer of ``src`` (optimum usually copies it already)."""
    src, dst = Path(src), Path(dst)
    for name in TOKENIZER_FILES:
        if (src / name).is_file() and not (dst / name).is_file():
            shutil.copy2(src / name, dst / name)
