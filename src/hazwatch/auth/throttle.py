"""Back-off after failed logins, per user name: after `free` failures in a row each further
failure locks the name for twice as long as the last (base, 2×base, ... up to a cap). Names that do
not exist are throttled alike, so the answer does not reveal which names are real."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Entry:
    failures: int = 0
    locked_until: float = 0.0


class LoginThrottle:
    def __init__(self, free: int = 5, base_s: float = 30.0, cap_s: float = 900.0, capacity: int = 100_000) -> None:
        self.free, self.base_s, self.cap_s, self.capacity = free, base_s, cap_s, capacity
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, name: str, now: float) -> float:
        """Seconds until `name` may try again (0 when it may try now)."""
        e = self._entries.get(name.lower())
        return max(0.0, e.locked_until - now) if e else 0.0

    def failed(self, name: str, now: float) -> float:
        """Record a failure; returns the lock it caused in seconds (0 when none)."""
        key = name.lower()
        with self._lock:
            e = self._entries.pop(key, None) or _Entry()
            e.failures += 1
            lock = 0.0
            if e.failures >= self.free:
                lock = min(self.cap_s, self.base_s * 2 ** (e.failures - self.free))
                e.locked_until = now + lock
            self._entries[key] = e
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
            return lock

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._entries.pop(name.lower(), None)
