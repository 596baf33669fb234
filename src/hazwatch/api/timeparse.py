"""Query-string times and steps: ISO 8601 or epoch seconds; steps as seconds or 10s, 1m, 1h, 1d."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from fastapi import HTTPException

from hazwatch.domain.batch import US

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_STEP = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


MAX_EPOCH_S = 253_402_300_799  # 9999-12-31T23:59:59Z
MAX_STEP_US = 3660 * 86400 * US


def parse_time(text: str, name: str) -> int:
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        if not math.isfinite(seconds) or abs(seconds) > MAX_EPOCH_S:
            raise HTTPException(422, f"`{name}`: {text!r} is not a time between year 1 and 9999")
        return round(seconds * US)
    try:
        dt = datetime.fromisoformat(text.replace(" ", "+") if text.count(" ") == 1 else text)
    except ValueError:
        raise HTTPException(422, f"`{name}`: {text!r} is neither ISO 8601 nor epoch seconds") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return int(dt.timestamp()) * US + dt.microsecond
    except (OverflowError, ValueError):
        raise HTTPException(422, f"`{name}`: {text!r} is out of range") from None


def parse_step(text: str) -> int:
    m = _STEP.match(text)
    if not m:
        raise HTTPException(422, f"`step`: {text!r} is not a duration such as 30, 10s, 1m, 1h or 1d")
    us = round(float(m.group(1)) * _UNITS[m.group(2) or "s"] * US)
    if us <= 0 or us > MAX_STEP_US:
        raise HTTPException(422, "`step` must be positive and at most 3660 days")
    return us
