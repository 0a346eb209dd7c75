"""The machine and the package versions, for manifests, benchmark reports and model cards."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any


def environment_info() -> dict[str, Any]:
    """Package versions and hardware, for manifests and benchmark reports."""
    import importlib.metadata as md

    versions = {}
    for pkg in ("torch", "transformers", "datasets", "optimum", "optimum-onnx", "onnxruntime", "onnx", "scikit-learn", "numpy"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    try:
        from importlib.metadata import version
        versions["ntmm"] = version("ntmm")
    except Exception:
        pass
    info = {"python": sys.version.split()[0], "platform": platform.platform(),
            "cpu": cpu_model(), "cpu_count": os.cpu_count(), "packages": versions}
    try:
        import torch
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except Exception:
        pass
    return info


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
