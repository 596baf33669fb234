"""The telemetry stream: one JetStream stream over every partition subject, kept as a work queue
(a batch leaves the stream once its worker has stored and evaluated it)."""

from __future__ import annotations

import contextlib

import nats
import nats.js.errors
from nats.js.api import RetentionPolicy, StorageType, StreamConfig

from hazwatch.scale.partitions import SUBJECT

STREAM = "HZ_TEL"


def servers(url: str) -> list[str]:
    return [u.strip() for u in url.split(",") if u.strip()]


async def connect(url: str, name: str, timeout_s: float = 5.0):
    return await nats.connect(servers=servers(url), name=name, connect_timeout=timeout_s,
                              max_reconnect_attempts=-1, reconnect_time_wait=0.5)


async def ensure(js, replicas: int, max_age_s: float = 7 * 86400) -> None:
    config = StreamConfig(name=STREAM, subjects=[f"{SUBJECT}.>"], retention=RetentionPolicy.WORK_QUEUE,
                          storage=StorageType.FILE, num_replicas=replicas, max_age=max_age_s,
                          duplicate_window=120.0)
    with contextlib.suppress(nats.js.errors.BadRequestError):  # made by another node
        await js.add_stream(config)
