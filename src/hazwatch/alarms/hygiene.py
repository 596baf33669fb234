"""Alarm-flood control (ISA-18.2 / EEMUA 191): what keeps a console usable when a plant upsets.

- Flood: more than `flood_alarms` alarms raised in `flood_window_s` in one area (an enterprise's
  console) starts a flood; it ends when the count in the window falls to half that. Each flood is
  a row of `alarm_floods`, and alarms raised during it say so in their journal.
- Chattering: `chatter_activations` raises of one alarm within `chatter_window_s`. The alarm is
  marked and journaled; with `chatter_suppress_s` > 0 it is also suppressed, and the suppression
  expires by itself.
- State-based suppression: a sensor's `suppress_when` condition (the rule language, e.g.
  `stopped(P-101)`) suppresses its alarms while it holds; they return when it stops holding.
- First-out: an alarm raised within `first_out_window_s` of an active alarm of the same group (the
  hazard source, else the device) is grouped under that first alarm, which stands for it.

All of this runs on the alarm writer thread, so it needs no locks; the state lives in memory and
in the alarm rows (suppression, chattering, first_out_id), so a restart keeps what operators see."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from hazwatch.domain.batch import US


@dataclass(frozen=True)
class HygienePolicy:
    flood_alarms: int = 10
    flood_window_s: float = 600.0
    chatter_activations: int = 3
    chatter_window_s: float = 60.0
    chatter_suppress_s: float = 0.0  # 0: mark chattering alarms, do not suppress them
    first_out_window_s: float = 60.0


@dataclass
class Flood:
    id: int
    area: int
    started_at: int
    peak: int
    alarms: int


@dataclass
class AreaWindow:
    raises: deque = field(default_factory=deque)  # raise times (µs) within the flood window
    flood: Flood | None = None


class Hygiene:
    def __init__(self, policy: HygienePolicy | None = None) -> None:
        self.policy = policy or HygienePolicy()
        self.areas: dict[int, AreaWindow] = {}
        self.activations: dict[int, deque] = {}  # alarm id -> raise times within the chatter window
        self.state_suppressed: dict[int, str] = {}  # sensor id -> why (its suppress_when text)

    # -- flood ---------------------------------------------------------------------------------------
    def count_raise(self, area: int, ts: int) -> tuple[bool, int]:
        """Count a raise in its area; returns (the area was not flooding and now is, count in window)."""
        w = self.areas.setdefault(area, AreaWindow())
        w.raises.append(ts)
        self._trim(w, ts)
        n = len(w.raises)
        if w.flood is not None:
            w.flood.alarms += 1
            w.flood.peak = max(w.flood.peak, n)
            return False, n
        return n > self.policy.flood_alarms, n

    def _trim(self, w: AreaWindow, now: int) -> None:
        horizon = now - int(self.policy.flood_window_s * US)
        while w.raises and w.raises[0] <= horizon:
            w.raises.popleft()

    def ending_floods(self, now: int) -> list[Flood]:
        """Floods whose window count has fallen to half the flood threshold."""
        out = []
        for w in self.areas.values():
            if w.flood is None:
                continue
            self._trim(w, max(now, w.raises[-1] if w.raises else now))
            if len(w.raises) <= self.policy.flood_alarms // 2:
                out.append(w.flood)
                w.flood = None
        return out

    def flooding(self, area: int) -> Flood | None:
        w = self.areas.get(area)
        return w.flood if w is not None else None

    # -- chatter -------------------------------------------------------------------------------------
    def chatters(self, alarm_id: int, ts: int) -> int:
        """Count an activation; the number within the chatter window if it is chattering, else 0."""
        d = self.activations.setdefault(alarm_id, deque())
        d.append(ts)
        horizon = ts - int(self.policy.chatter_window_s * US)
        while d and d[0] <= horizon:
            d.popleft()
        return len(d) if len(d) >= self.policy.chatter_activations else 0

    def calm(self, alarm_id: int, now: int) -> bool:
        """No longer chattering: fewer activations than the threshold within the window."""
        d = self.activations.get(alarm_id)
        if d is None:
            return True
        horizon = now - int(self.policy.chatter_window_s * US)
        while d and d[0] <= horizon:
            d.popleft()
        return len(d) < self.policy.chatter_activations
