"""Tiers: a park (or enterprise) deployment sends up what the tier above needs, and never raw data.

Park side, `Uplink`: tails its alarm journal and ledger checkpoints by id (as the ledger tails its
tables) and takes the feed's summaries, publishing each as JSON (`hazwatch-uplink/1`) to subjects
`hz.up.<name>.<kind>` of the stream `HZ_UP` on the park's own NATS server. That server is a leaf
node of the regulator's: when the link is cut the park keeps working and the stream keeps
growing; nothing waits for the regulator. Progress is the stream itself (the last message of each
subject), and every message has a Nats-Msg-Id, so a restart neither skips nor repeats a row.

Regulator side: `link` gives each park a stream of its own, `HZ_TIER_<park>`, whose one source is
that park's `HZ_UP` (reached through the leaf connection by its JetStream domain); JetStream copies
it across and, after a cut, resumes where it stopped. `TierReceiver` consumes every `HZ_TIER_*`
stream into `tier_events`, once per (park, kind, key), acknowledging only what is committed.

A park's identity is the link it came through, which the regulator named, never what a message
says: a park that writes another park's name into its messages still files them under its own.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable

import nats.errors
import nats.js.errors
import numpy as np
import orjson
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    ExternalStream,
    StorageType,
    StreamConfig,
    StreamSource,
)
from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from hazwatch.alarms.models import Alarm, AlarmJournal
from hazwatch.catalog.index import SensorIndex
from hazwatch.domain import Clock
from hazwatch.domain.batch import US, Quality, ReadingBatch
from hazwatch.domain.clock import iso
from hazwatch.domain.limits import Priority
from hazwatch.ledger.models import LedgerCheckpoint
from hazwatch.scale import stream
from hazwatch.scale.loop import NatsLoop
from hazwatch.scale.models import TierEvent

log = logging.getLogger(__name__)
UP_STREAM, TIER_STREAM, CONSUMER = "HZ_UP", "HZ_TIER", "hazwatch-tier"
TIER_PREFIX = TIER_STREAM + "_"  # one stream per linked park: HZ_TIER_<park code>
FORMAT = "hazwatch-uplink/1"
KINDS = ("alarm", "summary", "checkpoint", "aggregate")
_J, _A, _C, _E = AlarmJournal.__table__, Alarm.__table__, LedgerCheckpoint.__table__, TierEvent.__table__
BATCH = 500


def up_subject(name: str, kind: str) -> str:
    return f"hz.up.{name}.{kind}"


def _describe(a, index: SensorIndex) -> dict:
    """What the regulator needs to read an alarm of a catalog it does not have."""
    owner = index.owner_of(a)
    out = {"condition": a.condition, "priority": Priority(a.priority).label, "sensor": None,
           "enterprise": owner.enterprise if owner is not None else None}
    if a.sensor_id is not None:
        info = index.info.get(a.sensor_id, {})
        out |= {"sensor": info.get("tag"), "sensor_name": info.get("name"), "unit": info.get("unit"),
                "limit": (info.get("limits") or {}).get(a.condition), "enterprise": info.get("enterprise")}
    elif a.device_id is not None:
        out["device"] = index.device_codes.get(a.device_id)
    elif a.unit_id is not None:
        out["process_unit"] = owner.code if owner is not None else None
    elif a.rule_id is not None:
        out["rule"] = owner.code if owner is not None else None
    return out


def alarm_body(r, index: SensorIndex) -> dict:
    """An alarm journal row as it goes up: the row (joined with its alarm's keys) and what the
    regulator needs to read it without this park's catalog."""
    return {"id": r.id, "alarm_id": r.alarm_id, "event": r.event, "ts": iso(r.ts), "actor": r.actor,
            "comment": r.comment, "value": r.value, "state": r.state} | _describe(r, index)


def uplink_message(park: str, kind: str, key: int | str, ts: int, body: dict) -> bytes:
    return orjson.dumps({"format": FORMAT, "park": park, "kind": kind, "key": str(key), "ts": ts, "body": body})


def aggregates(batch: ReadingBatch, index: SensorIndex) -> dict:
    """Per sensor of a window's readings (sorted by sensor, ts): min, avg, max, last and count of
    the readings of good or uncertain quality, as columns."""
    keep = batch.quality < int(Quality.BAD)
    s, v = batch.sensor[keep], batch.value[keep]
    if not len(s):
        return {"sensor": [], "min": [], "avg": [], "max": [], "last": [], "count": []}
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    ends = np.r_[starts[1:], len(s)]
    count = ends - starts
    return {"sensor": [index.tags[i] if i < index.size else str(i) for i in s[starts].tolist()],
            "min": np.minimum.reduceat(v, starts).tolist(), "avg": (np.add.reduceat(v, starts) / count).tolist(),
            "max": np.maximum.reduceat(v, starts).tolist(), "last": v[ends - 1].tolist(), "count": count.tolist()}


class Uplink(NatsLoop):
    def __init__(self, engine: Engine, index: Callable[[], SensorIndex], url: str, name: str,
                 window: Callable[[int, int], ReadingBatch] | None = None, aggregate_s: float = 300.0,
                 interval_s: float = 1.0) -> None:
        """`window(start, end)` reads the stored readings of a time window (the telemetry store's):
        every `aggregate_s` each sensor's min, avg, max, last and count go up, never the readings."""
        super().__init__("hazwatch-uplink")
        self.engine, self.index, self.url, self.name, self.interval_s = engine, index, url, name, interval_s
        self.window, self.aggregate_us = window, int(aggregate_s * US)
        self._summaries: collections.deque = collections.deque(maxlen=64)  # the newest matter; older are superseded
        self._last: dict[str, int] = {}

    def summary(self, org: str, doc: dict) -> None:
        """A bus handler: keep the summary for the next round (never blocks the publisher)."""
        self._summaries.append((org, doc))

    async def _open(self, js) -> None:
        self._js = js
        with contextlib.suppress(nats.js.errors.BadRequestError):
            await js.add_stream(StreamConfig(name=UP_STREAM, subjects=["hz.up.>"], storage=StorageType.FILE,
                                             max_age=30 * 86400, duplicate_window=600))
        for kind in ("alarm", "checkpoint", "aggregate"):
            try:
                msg = await js.get_last_msg(UP_STREAM, up_subject(self.name, kind))
                self._last[kind] = int(orjson.loads(msg.data)["key"])
            except nats.js.errors.NotFoundError:
                self._last[kind] = 0

    async def _publish(self, kind: str, key: int | str, ts: int, body: dict) -> None:
        await self._js.publish(up_subject(self.name, kind), uplink_message(self.name, kind, key, ts, body),
                               headers={"Nats-Msg-Id": f"{self.name}-{kind}-{key}"})

    async def _step(self) -> None:
        while True:
            rows = await asyncio.to_thread(self._journal_after, self._last["alarm"])
            for r in rows:
                await self._publish("alarm", r.id, r.ts, alarm_body(r, self.index()))
                self._last["alarm"] = r.id
            if len(rows) < BATCH:
                break
        for c in await asyncio.to_thread(self._checkpoints_after, self._last["checkpoint"]):
            await self._publish("checkpoint", c.size, c.published_at, {"size": c.size, "checkpoint": c.cosigned})
            self._last["checkpoint"] = c.size
        while self._summaries:
            org, doc = self._summaries[0]
            await self._publish("summary", f"{org}@{doc.get('generated_at')}", int(time.time() * 1e6), doc)
            self._summaries.popleft()
        if self.window is not None:
            await self._aggregates()

    async def _aggregates(self, most: int = 12) -> None:
        """The windows closed since the last one sent (a grace of a tenth of a window, at most 30 s,
        for readings that arrive late); a first start sends only the newest closed window."""
        w = self.aggregate_us
        closed = (int(time.time() * US) - min(w // 10, 30 * US)) // w * w  # end of the newest closed window
        start = self._last["aggregate"] + w if self._last["aggregate"] else closed - w
        for _ in range(most):
            if start + w > closed:
                return
            batch = await asyncio.to_thread(self.window, start, start + w)
            body = {"start": iso(start), "end": iso(start + w)} | aggregates(batch, self.index())
            await self._publish("aggregate", start, start + w, body)
            self._last["aggregate"] = start
            start += w

    def _journal_after(self, last: int) -> list:
        with self.engine.connect() as conn:
            return conn.execute(select(_J, _A.c.sensor_id, _A.c.device_id, _A.c.unit_id, _A.c.rule_id,
                                       _A.c.condition, _A.c.priority).join(_A, _A.c.id == _J.c.alarm_id)
                                .where(_J.c.id > last).order_by(_J.c.id).limit(BATCH)).all()

    def _checkpoints_after(self, size: int) -> list:
        with self.engine.connect() as conn:
            return conn.execute(select(_C.c.size, _C.c.cosigned, _C.c.published_at)
                                .where(_C.c.size > size, _C.c.published_at.is_not(None))
                                .order_by(_C.c.size)).all()


class TierReceiver(NatsLoop):
    def __init__(self, engine: Engine, clock: Clock, url: str, interval_s: float = 1.0) -> None:
        super().__init__("hazwatch-tier")
        self.engine, self.clock, self.url, self.interval_s = engine, clock, url, interval_s
        self._js = None
        self._subs: dict[str, object] = {}  # park -> pull subscription on its stream

    async def _open(self, js) -> None:
        self._js, self._subs = js, {}

    async def _bind(self) -> None:
        """A subscription for every linked park (a park linked since the last step joins now)."""
        async for name in _tier_streams(self._js):
            park = name[len(TIER_PREFIX):]
            if park in self._subs:
                continue
            with contextlib.suppress(nats.js.errors.BadRequestError):
                await self._js.add_consumer(name, ConsumerConfig(
                    durable_name=CONSUMER, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                    ack_wait=30))
            self._subs[park] = await self._js.pull_subscribe_bind(CONSUMER, stream=name)

    async def _step(self) -> None:
        await self._bind()
        for park, sub in self._subs.items():
            while True:
                try:
                    msgs = await sub.fetch(BATCH, timeout=0.2)
                except (TimeoutError, nats.errors.TimeoutError):
                    break
                rows = []
                for m in msgs:
                    try:
                        doc = orjson.loads(m.data)
                        if str(doc["park"]) != park:
                            log.warning("a message through park %s's link says it is %r: filed under %s",
                                        park, doc["park"], park)
                        rows.append({"park": park, "kind": str(doc["kind"]), "key": str(doc["key"]),
                                     "ts": int(doc["ts"]), "body": doc["body"]})
                    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                        log.warning("tier message %s is not %s; dropped", m.subject, FORMAT)
                if rows:
                    await asyncio.to_thread(self._store, rows)
                for m in msgs:
                    await m.ack()

    def _store(self, rows: list[dict]) -> None:
        now = self.clock.now_us()
        with self.engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(dialect.insert(_E).on_conflict_do_nothing(), [r | {"received_at": now} for r in rows])


async def _tier_streams(js):
    for info in await js.streams_info():
        if info.config.name.startswith(TIER_PREFIX):
            yield info.config.name


async def link(url: str, domain: str, park: str | None = None) -> list[str]:
    """Give park `park` (default: the domain's name) the stream HZ_TIER_<park>, sourcing HZ_UP
    through JetStream domain `domain`; returns the parks linked now. Linking a park again to
    another domain moves it there."""
    park = park or domain
    if not park.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"park {park!r}: letters, digits, - and _ only")
    nc = await stream.connect(url, "hazwatch-tier-link")
    try:
        js = nc.jetstream(timeout=5)
        name, api = TIER_PREFIX + park, f"$JS.{domain}.API"
        source = StreamSource(name=UP_STREAM, external=ExternalStream(api=api))
        try:
            config = (await js.stream_info(name)).config
            if [s.external.api for s in config.sources or [] if s.external] != [api]:
                config.sources = [source]
                await js.update_stream(config)
        except nats.js.errors.NotFoundError:
            await js.add_stream(StreamConfig(name=name, subjects=[], storage=StorageType.FILE, max_age=90 * 86400,
                                             sources=[source]))
        return sorted([n[len(TIER_PREFIX):] async for n in _tier_streams(js)])
    finally:
        await nc.close()


def received(engine: Engine, parks: set[str] | None, park: str | None, kind: str | None, limit: int) -> list[dict]:
    """Tier events newest first; `parks` limits them to what the caller may see (None: all)."""
    q = select(_E).order_by(_E.c.ts.desc(), _E.c.id.desc()).limit(limit)
    if parks is not None:
        q = q.where(_E.c.park.in_(parks))
    if park is not None:
        q = q.where(_E.c.park == park)
    if kind is not None:
        q = q.where(_E.c.kind == kind)
    with engine.connect() as conn:
        return [{"park": r.park, "kind": r.kind, "key": r.key, "ts": iso(r.ts), "received_at": iso(r.received_at),
                 "body": r.body} for r in conn.execute(q)]
