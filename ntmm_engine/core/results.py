"""Typed results that round-trip through their JSON (``result.json``, ``benchmark.json``).

Every job returns a dataclass deriving from :class:`Record`; ``to_dict`` is
what the job writes, ``from_dict`` reads it back into the same type, nested
records included, so the app and the CLI use attributes instead of guessing
keys. Written here because ``dataclasses.asdict`` has no inverse in the
standard library, and a dependency (dacite, pydantic) for thirty lines is
not worth it.

Reading is tolerant in one direction only: keys a newer or older NTMM wrote
that this version does not know are ignored, and fields missing from the
file take their defaults. Values are not coerced.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

R = TypeVar("R", bound="Record")


class Record:
    """Mixin for result dataclasses: ``to_dict()`` / ``from_dict()``."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[R], data: dict[str, Any]) -> R:
        return _build(cls, data)


def _build(cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    kwargs = {f.name: _value(hints[f.name], data[f.name]) for f in dataclasses.fields(cls)
              if f.init and f.name in data}
    return cls(**kwargs)


def _value(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        records = [a for a in inner if isinstance(a, type) and dataclasses.is_dataclass(a)]
        return _build(records[0], value) if records and isinstance(value, dict) else value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build(tp, value)
    if origin is list and args and isinstance(value, list):
        return [_value(args[0], v) for v in value]
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        return {k: _value(args[1], v) for k, v in value.items()}
    return value
