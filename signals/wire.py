"""JSON-edge helpers: ISO-8601 UTC timestamps with milliseconds and NaN-free numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime


def iso_utc_ms(unix_seconds: float) -> str:
    """``2024-01-15T10:30:00.123Z`` for a Unix time, the format docs/protocol.md ("Common rules") fixes."""
    moment = datetime.fromtimestamp(unix_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def num(value: float | None) -> float | None:
    """A finite float, or None: docs/protocol.md forbids NaN and infinities in JSON."""
    if value is None:
        return None
    as_float = float(value)
    return as_float if math.isfinite(as_float) else None


def json_safe(value: object) -> object:
    """Recursively replace non-finite floats (NaN, inf, NumPy scalars included) with None."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return num(value)
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [json_safe(item) for item in value]
    # NumPy scalars and other number-likes end up here.
    item = getattr(value, "item", None)
    if callable(item):
        return json_safe(item())
    return value
