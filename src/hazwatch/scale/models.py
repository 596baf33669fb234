"""The fencing tokens of partition leases. The lease itself lives in NATS (it lapses by the
server's clock when a worker stops renewing); this row is what every alarm transaction checks, so
a worker that lost its lease without knowing it (paused, cut off) cannot write after its successor."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hazwatch.db import Base


class PartitionLease(Base):
    __tablename__ = "partition_leases"
    partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[int] = mapped_column(BigInteger)  # the lease's revision in the bucket: grows with each owner
    owner: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[int] = mapped_column(BigInteger)  # µs since the epoch
