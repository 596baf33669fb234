"""Relational state of the scale-out mode and the tiers.

Partition leases: the lease itself lives in NATS (it lapses by the servers' clock when a worker
stops renewing); the fencing token here is what every alarm transaction checks, so a worker that
lost its lease without knowing it (paused, cut off) cannot write after its successor."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hazwatch.db import Base


class PartitionLease(Base):
    """The newest owner's token per partition."""

    __tablename__ = "partition_leases"
    partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[int] = mapped_column(BigInteger)  # the lease's revision in the bucket: grows with each owner
    owner: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[int] = mapped_column(BigInteger)  # µs since the epoch


class TierEvent(Base):
    """What a regulator deployment received from the tiers below it: alarm journal rows, periodic
    summaries and ledger checkpoints, each once (park, kind, key)."""

    __tablename__ = "tier_events"
    __table_args__ = (UniqueConstraint("park", "kind", "key"), Index("ix_tier_events_kind_ts", "kind", "ts"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    park: Mapped[str] = mapped_column(String(100))  # the sending deployment's name (its org code)
    kind: Mapped[str] = mapped_column(String(20))  # alarm | summary | checkpoint
    key: Mapped[str] = mapped_column(String(100))  # journal row id, summary time, checkpoint size
    ts: Mapped[int] = mapped_column(BigInteger)  # when it happened there (µs)
    body: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[int] = mapped_column(BigInteger)
