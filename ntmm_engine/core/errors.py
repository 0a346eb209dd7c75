"""User-facing errors raised by the engine.

Every error a user can cause (bad config, bad data, bad model folder) is an
:class:`NTMMError` with a plain message that names the file, column, row or
field. The CLI and the GUI show ``str(err)``; anything else is a bug and is
shown with its traceback in the details only.
"""

from __future__ import annotations


class NTMMError(Exception):
    """Base class of all errors meant to be shown to a user as-is."""

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:  # message plus an optional "what to do"
        return f"{self.message}\n  Hint: {self.hint}" if self.hint else self.message


class ConfigError(NTMMError):
    """A configuration value is missing, unknown, of the wrong type or out of range."""

    def __init__(self, field: str, message: str, *, hint: str | None = None):
        super().__init__(f"{field}: {message}", hint=hint)
        self.field = field


class DataError(NTMMError):
    """A dataset cannot be read or is not usable for classification."""


class ModelError(NTMMError):
    """A model folder or file cannot be loaded safely."""


class Cancelled(BaseException):
    """Raised inside a job when the user cancelled it.

    A ``BaseException`` (as in Orange3) so that generic ``except Exception``
    blocks in library code do not swallow it.
    """
