"""JSON in and out, as strict as the Go SDK's encoding/json."""

from __future__ import annotations

import dataclasses
import json
from typing import Any


def decode(raw: bytes | str) -> Any:
    """Returns the JSON value in raw.

    raw must be UTF-8 and strict JSON: NaN and Infinity, which Python's json
    accepts and Go's refuses, are errors. Raises ValueError.
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"input is not UTF-8 (byte {e.start})") from None
    if not raw.strip():
        raise ValueError("no input: pass JSON as the last argument or on stdin")
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except json.JSONDecodeError as e:
        raise ValueError(str(e)) from None


def encode(value: Any) -> str:
    """Returns value as one line of JSON (no newline at the end).

    Besides what json serializes, objects with a ``tolist()`` method (numpy
    arrays and scalars) and dataclass instances are serialized, so that a
    handler may return a model's output as it is. NaN and infinities are
    errors: they are not JSON. Raises TypeError or ValueError.
    """
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_default)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _default(o: Any) -> Any:
    tolist = getattr(o, "tolist", None)
    if callable(tolist):
        return tolist()
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")
