"""Pure types shared by every stage: no I/O, no imports from the rest of Hazwatch."""

from hazwatch.domain.batch import Quality, ReadingBatch, Rejection
from hazwatch.domain.clock import Clock, SystemClock
from hazwatch.domain.limits import CONDITIONS, Condition, Priority

__all__ = [
    "CONDITIONS",
    "Clock",
    "Condition",
    "Priority",
    "Quality",
    "ReadingBatch",
    "Rejection",
    "SystemClock",
]
