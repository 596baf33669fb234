"""The upward feed: a summary of an org for the tier above it (enterprise → park → regulator):
its enterprises' colours with their reasons, its graded major hazards, open incidents, open and
overdue hidden dangers and the last hour's alarm KPIs. Raw readings stay where they were measured.

The same document (`hazwatch-summary/1`) is served on request (`GET /api/v1/summary`) and pushed
every `HAZWATCH_FEED_INTERVAL_S`: on the bus (`summary.published`) and, with an MQTT broker
configured, retained on `hz/v1/{org}/summary` (docs/asyncapi.yaml), which a broker bridge or NATS
leaf node carries to the next tier."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from hazwatch.domain.batch import US
from hazwatch.domain.clock import iso
from hazwatch.services import Services

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
    """What the summary reads, as one org's scope sees it (`access.Access` is one: the composition
    root hands the feed a way to make it, so the feed does not import the facade that serves it)."""

    def kpis(self, enterprise: str | None, start: int, end: int, bucket_us: int | None = None) -> dict: ...
    def hidden_dangers(self, state: str | None) -> list[dict]: ...
    def risk_overview(self) -> list[dict]: ...
    def major_hazards(self) -> list[dict]: ...
    def incidents(self, state: str | None) -> list[dict]: ...


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
    def __init__(self, services: Services, view: Callable[[int], ScopedView]) -> None:
        """`view(org_id)`: that org's scope, read as its administrator would."""
        self.services, self.view = services, view
        self._next = 0.0  # monotonic time of the next push

    def for_org(self, org_id: int) -> dict[str, Any]:
        node = self.services.orgs.current().nodes[org_id]
        return summary(self.view(org_id), node.code, self.services.pipeline.clock.now_us())

    def tick(self) -> int:
        """Push every org's summary when the interval has passed; returns how many were pushed."""
        s = self.services.settings
        if not s.feed_interval_s or time.monotonic() < self._next:
            return 0
        self._next = time.monotonic() + s.feed_interval_s
        kinds = set(s.feed_scope_kinds)
        pushed = 0
        docs = []
        for node in self.services.orgs.current().nodes.values():
            if node.kind not in kinds:
                continue
            try:
                doc = self.for_org(node.id)
            except Exception:
                log.exception("summary of %s failed", node.code)
                continue
            self.services.bus.publish(SUMMARY_PUBLISHED, SummaryPublished(node.code, doc))
            docs.append((node.code, doc))
            pushed += 1
        if docs and s.mqtt_url:
            self._mqtt(docs)
        return pushed

    def _mqtt(self, docs: list[tuple[str, dict]]) -> None:
        import paho.mqtt.client as mqtt

        from hazwatch.ingest.mqtt import Broker

        b = Broker.parse(self.services.settings.mqtt_url)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{self.services.settings.mqtt_client_id}"
                             "-feed", protocol=mqtt.MQTTv5)
        if b.username:
            client.username_pw_set(b.username, b.password)
        if b.tls:
            client.tls_set()
        try:
            client.connect(b.host, b.port, keepalive=30)
            client.loop_start()
            infos = [client.publish(topic(code), json.dumps(doc, ensure_ascii=False), qos=1, retain=True)
                     for code, doc in docs]
            for info in infos:
                info.wait_for_publish(10)
        except OSError as e:
            log.warning("summary feed: MQTT broker unreachable (%s); the next interval tries again", e)
        finally:
            client.disconnect()
            client.loop_stop()
