"""Exactly one owner per partition.

A lease is a key `p.<n>` in a JetStream key-value bucket whose entries lapse `ttl` after their last
write, by the NATS servers' clock (replicated on a cluster, so no worker's clock decides). A worker
creates the key to take a partition (only one create can succeed) and rewrites it, on the revision
it last saw, to keep it. The revision at creation is the lease's fencing token: it is written to
`partition_leases` before the new owner reads any state, and every alarm transaction of a worker
locks its partitions' rows and checks its tokens there. A worker that lost its lease without
knowing it (paused past the ttl, cut off from NATS) is therefore refused by the database before it
can write a single alarm change after its successor started.

Workers announce themselves with `w.<node>` keys in the same bucket, so each can take a fair share
(ceil(partitions / live workers)) and give up the rest when another worker joins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass, field

import nats.js.errors
from nats.js.api import KeyValueConfig
from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from hazwatch.catalog.index import SensorIndex
from hazwatch.domain import Clock
from hazwatch.pipeline import Fenced
from hazwatch.scale import partitions, stream
from hazwatch.scale.models import PartitionLease

log = logging.getLogger(__name__)
BUCKET = "hz_leases"
_LEASE = PartitionLease.__table__


@dataclass
class Round:
    """What one lease round changed."""

    acquired: set[int] = field(default_factory=set)
    lost: set[int] = field(default_factory=set)  # lapsed, taken over, or handed back

    def __bool__(self) -> bool:
        return bool(self.acquired or self.lost)


async def open_bucket(js, ttl_s: float, replicas: int):
    """The lease bucket (partitions, workers, the singleton), made by whichever node comes first."""
    try:
        return await js.create_key_value(KeyValueConfig(bucket=BUCKET, ttl=ttl_s, history=1, replicas=replicas))
    except nats.js.errors.BadRequestError:  # made before with another ttl: use it as it is
        return await js.key_value(BUCKET)


class PartitionLeases:
    def __init__(self, engine: Engine, clock: Clock, node: str, count: int, ttl_s: float, replicas: int = 1) -> None:
        self.engine, self.clock, self.node, self.count = engine, clock, node, count
        self.ttl_s, self.replicas = ttl_s, replicas
        self.tokens: dict[int, int] = {}  # partition -> fencing token
        self._rev: dict[int, int] = {}  # partition -> the key's revision this node last wrote
        self._scoped: dict[int, int] = {}  # partition -> token, as the pipeline's index was scoped
        self._kv = None

    async def open(self, js, startup_s: float = 60.0) -> None:
        """The bucket, made if no node has yet (waiting out a cluster still electing its leaders)."""
        self._kv = await stream.patiently("lease bucket", lambda: open_bucket(js, self.ttl_s, self.replicas),
                                          startup_s)

    # -- the pipeline's view (Ownership) ------------------------------------------------------------
    def scope(self, index: SensorIndex, again: bool = False) -> SensorIndex:
        """The index for the partitions held now (a state rebuild), or with `again` (a catalog
        reload) for those the state was built for. The fence checks the tokens of the last rebuild,
        so a lease dropped in a lease round still fences the batches of its partition that the
        pipeline works on before the worker has rebuilt its state without it."""
        if not again:
            self._scoped = dict(self.tokens)
        return partitions.scoped(index, self._scoped, self.count)

    @property
    def scoped(self) -> dict[int, int]:
        """Partition -> token, as the pipeline's state was last built (empty before the first build)."""
        return dict(self._scoped)

    def check(self, conn: Connection) -> None:
        mine = dict(self._scoped)
        if not mine:
            return
        rows = conn.execute(select(_LEASE.c.partition, _LEASE.c.token).where(_LEASE.c.partition.in_(mine))
                            .with_for_update()).all()
        held = dict(rows)
        stale = sorted(p for p, t in mine.items() if held.get(p) != t)
        if stale:
            raise Fenced(f"partitions {stale} are held by a newer lease than this node's")

    # -- one round, every ttl/3 --------------------------------------------------------------------
    async def round(self) -> Round:
        kv, out = self._kv, Round()
        await kv.put(f"w.{self.node}", b"1")
        for p, rev in list(self._rev.items()):
            try:
                self._rev[p] = await kv.update(f"p.{p}", self.node.encode(), last=rev)
            except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.KeyNotFoundError):
                log.warning("lease on partition %d lapsed; another worker may hold it", p)
                self._drop(p)
                out.lost.add(p)
        try:
            live = max(1, sum(1 for k in await kv.keys() if k.startswith("w.")))  # (filters need NATS 2.10)
        except nats.js.errors.NoKeysError:
            live = 1
        share = math.ceil(self.count / live)
        for p in sorted(self._rev, reverse=True)[: max(0, len(self._rev) - share)]:
            await self.release(p)
            out.lost.add(p)
        for p in range(self.count):
            if len(self._rev) >= share:
                break
            if p in self._rev:
                continue
            try:
                rev = await kv.create(f"p.{p}", self.node.encode())
            except nats.js.errors.KeyWrongLastSequenceError:
                continue  # someone else's
            try:
                await asyncio.to_thread(self._fence, p, rev)
            except Fenced:
                log.exception("partition %d: the database holds a newer token", p)
                continue
            self._rev[p] = rev
            out.acquired.add(p)
        return out

    async def release(self, p: int) -> None:
        """Hand a partition back (the node is stopping, or another worker joined)."""
        rev = self._rev.get(p)
        self._drop(p)
        if rev is not None:
            with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):  # lapsed already
                await self._kv.delete(f"p.{p}", last=rev)

    async def release_all(self) -> None:
        for p in list(self._rev):
            await self.release(p)
        with contextlib.suppress(nats.js.errors.Error):
            await self._kv.delete(f"w.{self.node}")

    def _drop(self, p: int) -> None:
        self._rev.pop(p, None)
        self.tokens.pop(p, None)

    def _fence(self, p: int, token: int) -> None:
        """Record the new token; waits for the previous owner's transaction that holds the row."""
        row = {"partition": p, "token": token, "owner": self.node, "acquired_at": self.clock.now_us()}
        with self.engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(_LEASE).values(**row)
            conn.execute(stmt.on_conflict_do_update(
                index_elements=[_LEASE.c.partition],
                set_={k: stmt.excluded[k] for k in ("token", "owner", "acquired_at")},
                where=_LEASE.c.token < stmt.excluded.token))
            held = conn.execute(select(_LEASE.c.token).where(_LEASE.c.partition == p)).scalar_one()
        if held != token:
            raise Fenced(f"partition {p} already has the newer token {held}")
        self.tokens[p] = token


