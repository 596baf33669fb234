"""Query-string times and steps: ISO 8601 or epoch seconds; steps as seconds or 10s, 1m, 1h, 1d."""

from __future__ import annotations

import re

from fastapi import HTTPException

from hazwatch.domain.batch import US
from hazwatch.domain.clock import parse_instant
from hazwatch.domain.errors import Invalid

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_STEP = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


MAX_STEP_US = 3660 * 86400 * US


def parse_time(text: str, name: str) -> int:
    try:
        return parse_instant(text, name)
    except Invalid as e:
        raise HTTPException(422, e.message) from None


def parse_step(text: str) -> int:
    m = _STEP.match(text)
    if not m:
        raise HTTPException(422, f"`step`: {text!r} is not a duration such as 30, 10s, 1m, 1h or 1d")
    us = round(float(m.group(1)) * _UNITS[m.group(2) or "s"] * US)
    if us <= 0 or us > MAX_STEP_US:
        raise HTTPException(422, "`step` must be positive and at most 3660 days")
    return us
