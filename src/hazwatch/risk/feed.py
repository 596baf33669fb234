"""The upward feed: a summary of an org for the tier above it (enterprise → park → regulator):
its enterprises' colours with their reasons, its graded major hazards, open incidents, open and
overdue hidden dangers and the last hour's alarm KPIs. Raw readings stay where they were measured.

The same document (`hazwatch-summary/1`) is served on request (`GET /api/v1/summary`) and pushed
every `HAZWATCH_FEED_INTERVAL_S`: on the bus (`summary.published`) and, with an MQTT broker
configured, retained on `hz/v1/{org}/summary` (docs/asyncapi.yaml), which a broker bridge or NATS
leaf node carries to the next tier."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from hazwatch.domain.batch import US
from hazwatch.domain.clock import iso

if TYPE_CHECKING:
    from hazwatch.auth.scope import OrgTrees

log = logging.getLogger(__name__)
FORMAT = "hazwatch-summary/1"
SUMMARY_PUBLISHED = "summary.published"


def topic(org_code: str) -> str:
    return f"hz/v1/{org_code}/summary"


@dataclass(frozen=True, slots=True)
class SummaryPublished:
    org: str
    summary: dict[str, Any]


class ScopedView(Protocol):
    """What the summary and the periodic reports read, as one org's scope sees it (`access.Access`
    is one: the composition root hands the feed and the reports a way to make it, so neither
    imports the facade that serves them)."""

    def kpis(self, enterprise: str | None, start: int, end: int, bucket_us: int | None = None) -> dict: ...
    def hidden_dangers(self, state: str | None) -> list[dict]: ...
    def risk_overview(self) -> list[dict]: ...
    def major_hazards(self) -> list[dict]: ...
    def incidents(self, state: str | None) -> list[dict]: ...
    def pack_report(self, enterprise: str, start: int, end: int) -> list[dict]: ...


def summary(access: ScopedView, org_code: str, now_us: int) -> dict[str, Any]:
    """The summary of what `access` sees, named for `org_code`."""
    hour = access.kpis(None, now_us - 3600 * US, now_us)
    hidden = access.hidden_dangers("open")
    return {
        "format": FORMAT, "org": org_code, "generated_at": iso(now_us),
        "enterprises": access.risk_overview(),
        "major_hazards": [{"code": s["code"], "enterprise": s["enterprise"], "level": s["grading"]["level"],
                           "S": s["grading"]["S"], "R": s["grading"]["R"]}
                          for s in access.major_hazards() if s["grading"] and s["grading"]["is_major_hazard"]],
        "incidents": [{k: i[k] for k in ("id", "enterprise", "title", "state", "hazard_type", "priority", "tier",
                                         "opened_at", "acknowledged_at")} for i in access.incidents("open")],
        "hidden_dangers": {"open": len(hidden), "overdue_major": sum(h["overdue"] and h["grade"] == "major"
                                                                      for h in hidden),
                           "overdue_general": sum(h["overdue"] and h["grade"] == "general" for h in hidden)},
        "alarms_last_hour": {k: hour["alarms"][k] for k in ("raised", "per_10min", "peak_10min", "flood_percent")}
                            | {"acknowledge_median_s": hour["alarms"]["acknowledge"]["median_s"],
                               "standing": len(hour["alarms"]["standing"])},
    }


class Feed:
    """Pushes each org's summary every `interval_s` to the sinks (the bus, the broker)."""

    def __init__(self, orgs: OrgTrees, view: Callable[[int], ScopedView], now_us: Callable[[], int],
                 interval_s: float, scope_kinds: list[str],
                 sinks: list[Callable[[list[tuple[str, dict]]], None]]) -> None:
        """`view(org_id)`: that org's scope, read as its administrator would; each sink takes the
        pushed (org code, summary) pairs of one interval."""
        self.orgs, self.view, self.now_us = orgs, view, now_us
        self.interval_s, self.kinds, self.sinks = interval_s, set(scope_kinds), sinks
        self._next = 0.0  # monotonic time of the next push

    def for_org(self, org_id: int) -> dict[str, Any]:
        node = self.orgs.current().nodes[org_id]
        return summary(self.view(org_id), node.code, self.now_us())

    def tick(self) -> int:
        """Push every org's summary when the interval has passed; returns how many were pushed."""
        if not self.interval_s or time.monotonic() < self._next:
            return 0
        self._next = time.monotonic() + self.interval_s
        docs = []
        for node in self.orgs.current().nodes.values():
            if node.kind not in self.kinds:
                continue
            try:
                docs.append((node.code, self.for_org(node.id)))
            except Exception:
                log.exception("summary of %s failed", node.code)
        for sink in self.sinks if docs else ():
            try:
                sink(docs)
            except Exception:
                log.exception("summary feed: a sink failed; the next interval pushes again")
        return len(docs)
