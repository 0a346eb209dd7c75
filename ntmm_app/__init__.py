"""NTMM desktop app (PySide6): a step-by-step window over the ``ntmm_engine`` jobs.

The GUI imports no torch or transformers at start-up; every engine job and
every slow read runs on a worker thread (:mod:`ntmm_app.workers`).
"""
