"""Import the engine's heavy libraries once, in one thread at a time, early.

Importing torch and transformers takes seconds, and parts of it run in C
while holding the GIL (torch's extension initialisation, unmarshalling large
modules): done inside the first job, that stalled the UI thread for up to a
quarter of a second (bench/gui_responsiveness.py --real --diagnose). Doing it
while the user is still reading the first page moves that cost out of every
job's start.

Two threads importing the same package for the first time can see each
other's half-initialised modules: Python hands a thread a partly built module
rather than deadlock when two imports wait on each other, and the job then
fails with "module 'transformers' has no attribute 'PreTrainedTokenizerBase'"
(seen on a fresh install, where the first imports are slowest, when Run all
started while the data preview was still loading). So every worker thread
calls :func:`ensure_imported` before its work: the first one imports, under a
lock, and the others wait for it; afterwards the call returns at once.

After the warm-up, :func:`gc.freeze` moves the objects that live for the
whole session (modules, classes, functions) out of the garbage collector's
view, so full collections, such as the ``gc.collect()`` accelerate runs at
every ``Trainer.train`` start, only walk objects created since.
"""

from __future__ import annotations

import gc
import importlib
import threading

# What the jobs and tasks import first; the rest follows from these. "module:name" also fetches a
# name: transformers loads its parts lazily, and Trainer alone pulls in 1.4k modules (accelerate,
# scipy, sklearn) in 1.5 s, which otherwise happened at the start of every first job, after the freeze.
# onnxruntime and scikit-learn's models: the Predict step and the classical baseline load them while a
# training job may be importing too.
HEAVY_MODULES = ("torch", "transformers", "datasets", "transformers:Trainer", "transformers:AutoTokenizer",
                 "transformers:TrainerCallback", "sklearn.linear_model", "onnxruntime")

_lock = threading.Lock()
_tried: dict[str, bool] = {}  # name -> importable; written under _lock


def _load(name: str) -> None:
    """Import ``module`` or ``module:name`` (raises ImportError or AttributeError)."""
    module, _, attr = name.partition(":")
    loaded = importlib.import_module(module)
    if attr:
        getattr(loaded, attr)


def ensure_imported(modules: tuple[str, ...] | None = None) -> list[str]:
    """Import ``modules`` (default :data:`HEAVY_MODULES`) unless done before; returns the importable ones.

    Blocks while another thread is importing them."""
    modules = HEAVY_MODULES if modules is None else modules
    with _lock:
        for name in modules:
            if name not in _tried:
                try:
                    _load(name)
                    _tried[name] = True
                except (ImportError, AttributeError):  # an installation without some engine part: its page says so
                    _tried[name] = False
        return [name for name in modules if _tried[name]]


def preload(modules: tuple[str, ...] | None = None) -> list[str]:
    """The warm-up task: :func:`ensure_imported`, then freeze the heap; returns what was imported."""
    done = ensure_imported(modules)
    gc.freeze()
    return done
