"""Back-off after failed logins, kept per (user name, client address) and per client address.

A lock on the user name alone can be turned against the user: anyone who knows an operator's name
could keep the control room locked out with one wrong password every few minutes. Here a failure
counts against the name *from that address* and against the address itself, so guesses from
elsewhere never lock the user out where they work, and one address that tries many names is slowed
down as a whole. After `free` failures in a row each further failure locks for twice as long as the
last (base, 2×base, ... up to a cap). Names that do not exist are throttled alike, so the answer
does not reveal which names are real."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Entry:
    failures: int = 0
    locked_until: float = 0.0


@dataclass(frozen=True)
class _Rule:
    free: int
    base_s: float
    cap_s: float

    def lock(self, failures: int) -> float:
        return min(self.cap_s, self.base_s * 2 ** (failures - self.free)) if failures >= self.free else 0.0


class LoginThrottle:
    def __init__(self, free: int = 5, base_s: float = 30.0, cap_s: float = 900.0, capacity: int = 100_000,
                 address_free: int = 20) -> None:
        self.pair = _Rule(free, base_s, cap_s)
        self.address = _Rule(address_free, base_s, cap_s)
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _keys(name: str, remote: str | None) -> tuple[tuple[str, str], tuple[str, str]]:
        where = remote or "-"
        return (name.lower(), where), ("", where)  # no user name is empty: ("", address) is the address's

    def wait(self, name: str, now: float, remote: str | None = None) -> float:
        """Seconds until `name` may try again from `remote` (0 when it may try now)."""
        out = 0.0
        for key in self._keys(name, remote):
            e = self._entries.get(key)
            if e is not None:
                out = max(out, e.locked_until - now)
        return out

    def failed(self, name: str, now: float, remote: str | None = None) -> float:
        """Record a failure; returns the lock it caused in seconds (0 when none)."""
        lock = 0.0
        with self._lock:
            for key, rule in zip(self._keys(name, remote), (self.pair, self.address), strict=True):
                e = self._entries.pop(key, None) or _Entry()
                e.failures += 1
                this = rule.lock(e.failures)
                if this:
                    e.locked_until = max(e.locked_until, now + this)
                lock = max(lock, this)
                self._entries[key] = e
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return lock

    def succeeded(self, name: str, remote: str | None = None) -> None:
        """The name's count from that address starts again; the address's own count does not (a
        guesser with one account of its own cannot wipe its record by logging in)."""
        with self._lock:
            self._entries.pop(self._keys(name, remote)[0], None)
