"""NTMM engine: data, teacher fine-tuning, distillation, optimization, benchmarks, prediction.

Qt-free by design: the desktop app (``ntmm_app``) talks to it only through job
functions, their config dataclasses, events and cancel tokens. Heavy libraries
(torch, transformers, onnxruntime) are imported inside the jobs, so importing
this package is cheap.
"""

__version__ = "0.1.0"
