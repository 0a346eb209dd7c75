"""PyTorch dynamic INT8 quantization (nn.Linear weights to qint8).

``torch.ao.quantization.quantize_dynamic`` is deprecated upstream (moving to
torchao). NTMM uses it while it works and reports "not available in this
torch" instead of crashing once it is gone. Quantized models are never
pickled: the folder keeps the fp32 safetensors and is re-quantized on load,
which takes about a second.
"""

from __future__ import annotations

import io
import warnings


class TorchInt8Unavailable(RuntimeError):
    """Dynamic INT8 quantization does not work with the installed torch."""


def torch_int8_status() -> tuple[bool, str]:
    """(available, reason) for ``torch.ao.quantization.quantize_dynamic`` on this machine."""
    try:
        import torch
        from torch.ao.quantization import quantize_dynamic  # noqa: F401
    except (ImportError, AttributeError) as exc:
        return False, f"PyTorch dynamic INT8 is not available in this torch: {exc}"
    engines = getattr(torch.backends.quantized, "supported_engines", [])
    if not [e for e in engines if e != "none"]:
        return False, f"PyTorch dynamic INT8 is not available in this torch ({torch.__version__}): no quantized engine"
    return True, ""


def quantize_dynamic_int8(model):
    """Return ``model`` with every ``nn.Linear`` replaced by a dynamic qint8 Linear (CPU)."""
    ok, reason = torch_int8_status()
    if not ok:
        raise TorchInt8Unavailable(reason)
    import torch
    from torch.ao.quantization import quantize_dynamic

    model = model.to("cpu").eval()
    with warnings.catch_warnings():
        # The deprecation notices are known and reported once by optimize; keep logs readable.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        except (RuntimeError, NotImplementedError, AssertionError, AttributeError) as exc:
            raise TorchInt8Unavailable(f"PyTorch dynamic INT8 failed in this torch ({torch.__version__}): "
                                       f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def state_dict_bytes(model) -> int:
    """Size of the model's state as ``torch.save`` would write it, measured in memory only.

    Used for the torch_int8 size figure: its folder stores fp32 weights (no
    pickles on disk), so the quantized size is counted in a BytesIO buffer,
    which is never written to disk or loaded back.
    """
    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.save(model.state_dict(), buf)
    return buf.getbuffer().nbytes
