"""Limit conditions and alarm priorities, shared by the catalog, detection and alarm stages."""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

Condition = Literal["LL", "L", "H", "HH"]
# Column order of every (n_sensors, 4) limit array.
CONDITIONS: tuple[Condition, ...] = ("LL", "L", "H", "HH")
# +1: alarm when the value rises to the limit; -1: when it falls to it.
DIRECTIONS = (-1, -1, 1, 1)


class Priority(IntEnum):
    """ISA-18.2 priorities; the integer orders the alarm console (higher first)."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    URGENT = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, name: str) -> Priority:
        return cls[name.upper()]


DEFAULT_PRIORITY: dict[Condition, Priority] = {
    "LL": Priority.HIGH,
    "L": Priority.MEDIUM,
    "H": Priority.MEDIUM,
    "HH": Priority.HIGH,
}

# A device's communication-loss alarm: not a limit on a value, but an alarm point all the same.
COMM = "COMM"
