"""Compound rules in the live engine (the language is in domain/rulelang.py).

Each stored batch becomes rows: every distinct timestamp at which a sensor named by some rule
reported, with every such sensor held at its last value (sample-and-hold). Each rule's condition is
evaluated over all rows at once (numpy boolean arrays); a rule with a sensor not yet heard from is
false. "for D" holds the condition: the rule fires when it has been true without a break for D,
counted in reading time, and the clock tick fires it when D passes with no new reading. The alarm
clears as soon as the condition is false. When a rule fires, the alarm says which inputs made it
true, with their values."""

from __future__ import annotations

import logging
import operator
from dataclasses import dataclass

import numpy as np

from hazwatch.catalog.index import SensorIndex
from hazwatch.domain.batch import US, Quality, ReadingBatch
from hazwatch.domain.clock import ReadingClock
from hazwatch.domain.rulelang import All, Any_, Compare, Node, Not, Rule, RuleError, State, Vote, parse

log = logging.getLogger(__name__)
RULE = "RULE"
NEVER = np.iinfo(np.int64).min
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq,
        "!=": operator.ne}


@dataclass(frozen=True)
class RuleEvent:
    rule_id: int  # a rule's id, or for kind "suppress" the sensor whose suppress_when this is
    active: bool
    ts: int
    comment: str
    kind: str = "rule"  # rule | suppress


def _value(x: str | float, cols: dict[str, int], v: np.ndarray) -> np.ndarray | float:
    return v[:, cols[x]] if isinstance(x, str) else x


def evaluate(node: Node, cols: dict[str, int], v: np.ndarray) -> np.ndarray:
    """The condition over rows of values (rows x referenced sensors)."""
    if isinstance(node, Compare):
        return np.asarray(_OPS[node.op](_value(node.left, cols, v), _value(node.right, cols, v)), bool)
    if isinstance(node, State):
        on = v[:, cols[node.tag]] >= 0.5
        return on if node.running else ~on
    if isinstance(node, Not):
        return ~evaluate(node.child, cols, v)
    parts = np.vstack([evaluate(c, cols, v) for c in node.children])
    if isinstance(node, All):
        return parts.all(axis=0)
    if isinstance(node, Any_):
        return parts.any(axis=0)
    return parts.sum(axis=0) >= node.k  # Vote


def explain(node: Node, cols: dict[str, int], row: np.ndarray, units: dict[str, str]) -> list[str]:
    """The inputs that make a true condition true, as text with their values."""
    v = row[None, :]

    def val(x: str | float) -> str:
        return f"{x} = {row[cols[x]]:g}{(' ' + units[x]) if units.get(x) else ''}" if isinstance(x, str) else f"{x:g}"

    if isinstance(node, Compare):
        left, right = val(node.left), val(node.right)
        return [f"{left} {node.op} {right}"]
    if isinstance(node, State):
        return [f"{node.tag} {'running' if node.running else 'stopped'} ({row[cols[node.tag]]:g})"]
    if isinstance(node, Not):
        return [f"not ({node.child.text()})"]
    true = [c for c in node.children if evaluate(c, cols, v)[0]]
    out: list[str] = []
    for c in (true if not isinstance(node, All) else node.children):
        out += explain(c, cols, row, units)
    if isinstance(node, Vote):
        out.append(f"{len(true)} of {len(node.children)} true, {node.k} needed")
    return out


class _Compiled:
    def __init__(self, rule_id: int, code: str, rule: Rule, sensors: list[int], active: bool,
                 kind: str = "rule") -> None:
        self.rule_id, self.code, self.rule, self.kind = rule_id, code, rule, kind
        self.tags = rule.tags()
        self.local = {t: i for i, t in enumerate(self.tags)}  # tag -> column of the rule's own rows
        self.sensors = np.asarray(sensors, np.int64)
        self.columns = np.empty(0, np.int64)  # the rule's sensors among all watched ones (set by load)
        self.hold_us = int(round(rule.hold_s * US))
        self.true = False  # the condition, as of the newest row
        self.since = NEVER  # when it became true
        self.active = active
        self.last_row: np.ndarray | None = None


class RuleEngine:
    def __init__(self, clock: ReadingClock | None = None) -> None:
        self.rules: dict[tuple[str, int], _Compiled] = {}
        self.value = np.full(0, np.nan)  # last value per sensor id (only referenced sensors matter)
        self.last_ts = np.full(0, NEVER, np.int64)
        # a hold completes on the tick only when reading time has passed it, so a backlog replayed
        # faster than real time does not fire holds ahead of its data; the owner feeds the clock
        self.clock = clock or ReadingClock()
        self._texts: dict[tuple[str, int], str] = {}
        self._watched = np.zeros(0, bool)  # sensors some rule names
        self._sensors = np.empty(0, np.int64)  # their ids, in column order of the shared rows
        self._col_of = np.full(0, -1, np.int64)  # sensor id -> its column, -1 if no rule names it

    def load(self, index: SensorIndex, active: set[int], suppressing: set[int] = frozenset()) -> None:
        """Compile the catalog's rules and the sensors' suppress_when conditions, keeping the state of
        those whose text did not change. `active`: rules whose alarm is on; `suppressing`: sensors
        whose state-based suppression holds."""
        if len(self.value) < index.size:
            n = index.size - len(self.value)
            self.value = np.concatenate([self.value, np.full(n, np.nan)])
            self.last_ts = np.concatenate([self.last_ts, np.full(n, NEVER, np.int64)])
        rules: dict[tuple[str, int], _Compiled] = {}
        wanted = [("rule", rid, r.code, r.when, rid in active) for rid, r in (index.rules or {}).items()]
        wanted += [("suppress", sid, index.info[sid]["tag"], text, sid in suppressing)
                   for sid, text in (index.suppress_when or {}).items()]
        for kind, key, code, text, on in wanted:
            if (kind, key) in self.rules and self._texts.get((kind, key)) == text:
                rules[(kind, key)] = self.rules[(kind, key)]
                continue
            try:
                rule = parse(text)
            except RuleError as e:
                log.error("%s %s does not parse (%s); it is not evaluated", kind, code, e.message)
                continue
            ids = [index.tag_to_id.get(t) for t in rule.tags()]
            if any(i is None for i in ids):
                log.error("%s %s names sensors the catalog lacks; it is not evaluated", kind, code)
                continue
            rules[(kind, key)] = _Compiled(key, code, rule, ids, on, kind)
            self._texts[(kind, key)] = text
        self.rules = rules
        self._watched = np.zeros(len(self.value), bool)
        for r in rules.values():
            self._watched[r.sensors] = True
        self._sensors = np.flatnonzero(self._watched)
        self._col_of = np.full(len(self.value), -1, np.int64)
        self._col_of[self._sensors] = np.arange(len(self._sensors))
        for r in rules.values():
            r.columns = self._col_of[r.sensors]

    def observe(self, batch: ReadingBatch, index: SensorIndex) -> list[RuleEvent]:
        if not self.rules or not len(batch):
            return []
        watched, cols_all, col_of = self._watched, self._sensors, self._col_of
        s = batch.sensor
        inside = (s >= 0) & (s < len(watched))
        mask = inside & watched[np.where(inside, s, 0)] & (batch.quality == Quality.GOOD)
        mask &= batch.ts >= self.last_ts[np.where(inside, s, 0)]  # late readings do not rewrite the past
        if not mask.any():
            return []
        s, ts, v = s[mask], batch.ts[mask], batch.value[mask]
        order = np.argsort(ts, kind="stable")
        s, ts, v = s[order], ts[order], v[order]
        stamps = np.unique(ts)
        m = np.full((len(stamps), len(cols_all)), np.nan)
        m[np.searchsorted(stamps, ts), col_of[s]] = v  # sorted by ts: the newest reading of a cell wins
        # sample-and-hold: each cell takes the newest value at or before its row
        have = np.where(~np.isnan(m), np.arange(len(stamps))[:, None], -1)
        have = np.maximum.accumulate(have, axis=0)
        carried = self.value[cols_all]
        rows = np.where(have >= 0, m[np.maximum(have, 0), np.arange(len(cols_all))], carried[None, :])
        self.value[cols_all] = rows[-1]
        np.maximum.at(self.last_ts, s, ts)
        events: list[RuleEvent] = []
        for r in self.rules.values():
            sub = rows[:, r.columns]
            known = ~np.isnan(sub).any(axis=1)
            with np.errstate(invalid="ignore"):
                b = evaluate(r.rule.condition, r.local, sub) & known
            events += self._advance(r, b, stamps, sub, index)
        return events

    def _advance(self, r: _Compiled, b: np.ndarray, stamps: np.ndarray, sub: np.ndarray,
                 index: SensorIndex) -> list[RuleEvent]:
        prev = np.r_[r.true, b[:-1]]
        start = np.where(b & ~prev, np.arange(len(b)), -1)
        run = np.maximum.accumulate(start)
        since = np.where(b, np.where(run >= 0, stamps[np.maximum(run, 0)], r.since), NEVER)
        fire = b & (stamps - since >= r.hold_us)
        events: list[RuleEvent] = []
        active = r.active
        # the rows where the alarm changes: fires after being off, or the condition breaks while on
        for i in np.flatnonzero(fire != np.r_[active, fire[:-1]] if len(fire) else fire).tolist():
            if fire[i] == active:
                continue
            active = bool(fire[i])
            events.append(self._event(r, active, int(stamps[i]), sub[i], index))
        r.active, r.true, r.since = active, bool(b[-1]), int(since[-1])
        r.last_row = sub[-1].copy()
        return events

    def _event(self, r: _Compiled, active: bool, ts: int, row: np.ndarray, index: SensorIndex) -> RuleEvent:
        if r.kind == "suppress":
            return RuleEvent(r.rule_id, active, ts, r.rule.text, "suppress")
        if active:
            units = {t: index.info.get(int(sid), {}).get("unit", "") for t, sid in zip(r.tags, r.sensors.tolist(),
                                                                                     strict=True)}
            why = "; ".join(explain(r.rule.condition, r.local, row, units))
            held = f" for {r.rule.hold_s:g} s" if r.hold_us else ""
            return RuleEvent(r.rule_id, True, ts, f"true{held}: {why}")
        return RuleEvent(r.rule_id, False, ts, f"no longer true: {r.rule.text}")

    def tick(self, now_us: int, index: SensorIndex) -> list[RuleEvent]:
        """Fire held rules whose hold ran out while no reading came (the last values still stand)."""
        events = []
        reading_now = self.clock.now(now_us)
        for r in self.rules.values():
            if (r.true and not r.active and r.hold_us and reading_now - r.since >= r.hold_us
                    and r.last_row is not None):
                r.active = True
                events.append(self._event(r, True, r.since + r.hold_us, r.last_row, index))
        return events
