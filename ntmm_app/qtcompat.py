"""Work-around for a reference-count bug of the Qt binding on Python < 3.12.

With PySide6 6.12.0 on Python 3.10/3.11, calling a Qt method that returns
nothing drops a reference to ``None``, and ``SignalInstance.emit()`` drops one
to ``True`` (the binding returns these singletons without taking a reference,
as is only correct for Python 3.12's immortal objects). After a few thousand
calls - a minute of live training plots - the interpreter aborts with "Fatal
Python error: none_dealloc" (or bool_dealloc).

:func:`guard_singleton_refcounts` detects the bug (a few calls, counts
compared) and only then raises the reference counts of ``None``, ``True``,
``False``, ``NotImplemented`` and ``Ellipsis`` far out of reach. These are
static objects that are never freed, so a high count is harmless; Python
3.12 does the same by making them immortal. Nothing is done on 3.12+ or when
the binding is not affected.
"""

from __future__ import annotations

import sys

_LIFT = 1 << 60  # more leaked references than a process can make
_applied: bool | None = None


def binding_leaks_singletons() -> bool:
    """True if Qt calls from Python drop references to None / True."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        sig = Signal()

    probe = _Probe()
    none0, true0 = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(16):
        probe.setObjectName("probe")  # returns nothing
        probe.sig.emit()              # returns True
    return sys.getrefcount(None) < none0 - 8 or sys.getrefcount(True) < true0 - 8


def guard_singleton_refcounts() -> bool:
    """Apply the work-around once if needed; returns whether it is in effect."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if sys.version_info >= (3, 12) or not binding_leaks_singletons():
        return False
    import ctypes
    for obj in (None, True, False, NotImplemented, Ellipsis):
        ctypes.c_ssize_t.from_address(id(obj)).value += _LIFT
    _applied = True
    return True
