"""NTMM engine: data, teacher fine-tuning, distillation, optimization, benchmarks, prediction.

Qt-free by design. The app and the CLI use :mod:`ntmm_engine.api` (plus
``core.events``, ``core.config`` and ``core.errors``); the sub-packages are
layered (see the README's Architecture section and the import-linter
contracts in ``pyproject.toml``). Importing it is cheap: torch and
transformers load when a job first needs them.
"""

__version__ = "0.1.0"
