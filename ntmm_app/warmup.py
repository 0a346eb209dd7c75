"""Import the engine's heavy libraries in the background once the window is up.

Importing torch and transformers takes seconds, and parts of it run in C
while holding the GIL (torch's extension initialisation, unmarshalling large
modules): done inside the first job, that stalled the UI thread for up to a
quarter of a second (bench/gui_responsiveness.py --real --diagnose). Doing it
while the user is still reading the first page moves that cost out of every
job's start.

Afterwards :func:`gc.freeze` moves the objects that live for the whole
session (modules, classes, functions) out of the garbage collector's view,
so full collections, such as the ``gc.collect()`` accelerate runs at every
``Trainer.train`` start, only walk objects created since.

Two threads importing the same package for the first time can see each
other's half-initialised modules, so while the warm-up runs, other worker
threads wait for it (:func:`wait`) before they start their work.
"""

from __future__ import annotations

import gc
import importlib
import threading

# What the training jobs import first; the rest follows from these. "module:name" also fetches a
# name: transformers loads its parts lazily, and Trainer alone pulls in 1.4k modules (accelerate,
# scipy, sklearn) in 1.5 s, which otherwise happened at the start of every first job, after the freeze.
HEAVY_MODULES = ("torch", "transformers", "datasets", "transformers:Trainer", "transformers:AutoTokenizer",
                 "transformers:TrainerCallback")


_idle = threading.Event()
_idle.set()  # set: no warm-up running


def begin() -> None:
    """Called in the UI thread just before the warm-up task is submitted: later workers wait."""
    _idle.clear()


def end() -> None:
    """Open the gate without a warm-up (it could not be started)."""
    _idle.set()


def wait(timeout: float = 300.0) -> None:
    """Block a worker thread until a running warm-up has finished (returns at once otherwise)."""
    _idle.wait(timeout)


def preload(modules: tuple[str, ...] = HEAVY_MODULES) -> list[str]:
    """Import ``modules`` (missing ones are skipped) and freeze the heap; returns what was imported."""
    done = []
    try:
        for name in modules:
            module, _, attr = name.partition(":")
            try:
                loaded = importlib.import_module(module)
                if attr:
                    getattr(loaded, attr)
            except (ImportError, AttributeError):  # an installation without some engine part: its page says so
                continue
            done.append(name)
        gc.freeze()
    finally:
        _idle.set()
    return done
