"""ONNX export (optimum), ONNX Runtime transformer fusions, and dynamic INT8 quantization.

Export goes through ``optimum.exporters.onnx.main_export`` with dynamic
batch and sequence axes. Quantization is ONNX Runtime's
``quantize_dynamic`` on MatMul *and* Gather: in a 2-layer student the
word-embedding matrix (read by Gather) is most of the file, so leaving it in
fp32 would hardly shrink the model.

Before quantizing, :func:`fuse_onnx` runs ONNX Runtime's transformer
optimizer (``onnxruntime.transformers.optimizer``: fused Attention,
EmbedLayerNormalization, SkipLayerNormalization, BiasGelu). Quantizing the
fused graph needs the fused op types too (``Attention`` -> QAttention,
``EmbedLayerNormalization`` -> QEmbedLayerNormalization); without them the
embeddings and attention weights stayed fp32 (a MiniLM-L6 came out 66 MB
instead of 23 MB, which is why fusion was once left to load time). The fp32
``onnx`` variant stays unfused: ORT fuses it at load (``ORT_ENABLE_ALL``),
and the saved graph stays portable to other execution providers.
"""

from __future__ import annotations

import logging
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..core.cpu import int8_capabilities
from ..core.errors import ModelError

QUANT_OP_TYPES = ("MatMul", "Gather")
# The same weights after fusion: inside Attention (QKV) and EmbedLayerNormalization (the embedding tables).
FUSED_QUANT_OP_TYPES = ("MatMul", "Attention", "Gather", "EmbedLayerNormalization")
FUSED_OPS = ("Attention", "MultiHeadAttention", "EmbedLayerNormalization", "SkipLayerNormalization", "BiasGelu", "FastGelu",
             "Gelu", "LayerNormalization")


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json",
                   "spiece.model", "sentencepiece.bpe.model", "vocab.json", "merges.txt", "added_tokens.json")


def cpu_quant_profile() -> dict[str, Any]:
    """The INT8 settings this CPU wants, as optimum's AutoQuantizationConfig would choose them.

    x86 CPUs without VNNI compute u8 x s8 products with VPMADDUBSW, which can
    saturate; ONNX Runtime's advice is 7-bit weights (``reduce_range``) there.
    VNNI x86 and ARM64 use the full 8-bit range.
    """
    caps = int8_capabilities()
    if caps["arch"] == "arm64":
        return {"profile": "arm64", "reduce_range": False}
    if caps["vnni"]:
        return {"profile": "avx512_vnni", "reduce_range": False}
    if caps["avx512"]:
        return {"profile": "avx512", "reduce_range": True}
    return {"profile": "avx2", "reduce_range": True}  # also when unknown: no VNNI is the safe assumption


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


def fuse_onnx(src: str | Path, dst: str | Path) -> dict[str, Any]:
    """ONNX Runtime's transformer fusions on ``src``, saved as ``dst``; returns what was fused.

    Heads and width are read from the graph (``num_heads=0``). A graph the
    optimizer finds nothing to fuse in (not BERT-like) is copied as it is,
    and the result says so.
    """
    from onnxruntime.transformers.optimizer import optimize_model

    try:
        with _quiet():
            # opt_level 0: only the offline fusions, saved portable to any CPU; ORT adds its own at load
            model = optimize_model(str(src), model_type="bert", num_heads=0, hidden_size=0, opt_level=0, use_gpu=False)
            stats = {k: int(v) for k, v in model.get_fused_operator_statistics().items() if v}
            fused = any(stats.get(op) for op in ("Attention", "MultiHeadAttention", "EmbedLayerNormalization"))
            if fused:
                model.save_model_to_file(str(dst))
    except Exception as exc:
        raise ModelError(f"ONNX Runtime graph fusion of {src} failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                         hint="set optimize.fuse: false to quantize the plain graph") from exc
    if not fused:
        shutil.copy2(src, dst)
    return {"fused": fused, "fused_ops": {k: v for k, v in stats.items() if k in FUSED_OPS},
            "optimizer": "onnxruntime.transformers.optimizer (model_type bert)"}


def quantize_onnx(src: str | Path, dst: str | Path, *, per_channel: bool = False, fused: bool = False) -> dict[str, Any]:
    """Dynamic INT8 quantization of MatMul and Gather weights (and their fused forms); returns the settings used."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    profile = cpu_quant_profile()
    op_types = list(FUSED_QUANT_OP_TYPES if fused else QUANT_OP_TYPES)
    # ORT stores MatMul weights as int8 but Gather tables (embeddings) with its activation type, uint8.
    settings = {"op_types": op_types, "per_channel": bool(per_channel), "fused_graph": bool(fused),
                "weights": "int8 (MatMul), uint8 (Gather/embeddings)", "activations": "dynamic uint8", **profile}
    try:
        with _quiet():
            # DefaultTensorType: shape inference cannot type the outputs of the fused (contrib-domain) ops
            quantize_dynamic(str(src), str(dst), op_types_to_quantize=op_types, per_channel=per_channel,
                             reduce_range=profile["reduce_range"], weight_type=QuantType.QInt8,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    except Exception as exc:
        raise ModelError(f"ONNX INT8 quantization of {src} failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    return settings


def int8_onnx(src: str | Path, dst: str | Path, *, fuse: bool, per_channel: bool = False) -> dict[str, Any]:
    """``src`` fused (if asked) then dynamically quantized into ``dst``: the INT8 variants' graph. Returns the
    quantization settings with ``fusion`` (what :func:`fuse_onnx` found; ``{"fused": False}`` unfused)."""
    src, dst = Path(src), Path(dst)
    graph, fusion = src, {"fused": False}
    if fuse:
        graph = dst.with_name("_fused.onnx")
        fusion = fuse_onnx(src, graph)
    try:
        settings = quantize_onnx(graph, dst, per_channel=per_channel, fused=fusion["fused"])
    finally:
        if graph != src:
            graph.unlink(missing_ok=True)
    return {**settings, "fusion": fusion}


def add_input_id_table(path: str | Path, table: list[int], input_name: str = "input_ids") -> None:
    """Put ``table[input_ids]`` at the start of the graph in ``path`` (rewritten in place): the vocabulary-pruned
    model reads its tokenizer's ids through the table (:func:`~ntmm_engine.distill.vocab.id_table`).

    Hand-written graph surgery: neither optimum nor ONNX Runtime has an op for remapping an input.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    if input_name not in {i.name for i in graph.input}:
        raise ModelError(f"{path} has no input {input_name!r} to map through the pruned vocabulary.")
    mapped = f"{input_name}_in_pruned_vocabulary"
    for node in graph.node:
        node.input[:] = [mapped if x == input_name else x for x in node.input]
    graph.initializer.append(numpy_helper.from_array(np.asarray(table, dtype=np.int64), "ntmm_vocabulary_table"))
    graph.node.insert(0, helper.make_node("Gather", ["ntmm_vocabulary_table", input_name], [mapped], axis=0,
                                          name="ntmm_vocabulary_table_lookup"))
    onnx.save(model, str(path))


def copy_tokenizer_files(src: str | Path, dst: str | Path) -> None:
    """Make sure ``dst`` holds the tokenizer of ``src`` (optimum usually copies it already)."""
    src, dst = Path(src), Path(dst)
    for name in TOKENIZER_FILES:
        if (src / name).is_file() and not (dst / name).is_file():
            shutil.copy2(src / name, dst / name)
