"""The telemetry stream: one JetStream stream over every partition subject, kept as a work queue
(a batch leaves the stream once its worker has stored and evaluated it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import nats
import nats.errors
import nats.js.errors
from nats.js.api import RetentionPolicy, StorageType, StreamConfig

from hazwatch.scale.partitions import SUBJECT

STREAM = "HZ_TEL"
log = logging.getLogger(__name__)


def servers(url: str) -> list[str]:
    return [u.strip() for u in url.split(",") if u.strip()]


async def connect(url: str, name: str, timeout_s: float = 5.0):
    return await nats.connect(servers=servers(url), name=name, connect_timeout=timeout_s,
                              max_reconnect_attempts=-1, reconnect_time_wait=0.5)


async def patiently(what: str, make, startup_s: float = 60.0):
    """`await make()`, again and again while the NATS servers do not answer yet: a cluster that is
    still electing its leaders is silent for a while when nodes start together with it. Gives up
    (raising the last error) after `startup_s`."""
    deadline = time.monotonic() + startup_s
    while True:
        try:
            return await make()
        except (TimeoutError, nats.errors.Error, nats.js.errors.Error) as e:
            if time.monotonic() > deadline:
                raise
            log.warning("%s not ready yet (%s); trying again", what, e or type(e).__name__)
            await asyncio.sleep(0.5)


async def ensure(js, replicas: int, max_age_s: float = 7 * 86400, startup_s: float = 60.0) -> None:
    """Make the stream if no node has yet (waiting out a cluster still electing its leaders)."""
    config = StreamConfig(name=STREAM, subjects=[f"{SUBJECT}.>"], retention=RetentionPolicy.WORK_QUEUE,
                          storage=StorageType.FILE, num_replicas=replicas, max_age=max_age_s,
                          duplicate_window=120.0)

    async def add() -> None:
        with contextlib.suppress(nats.js.errors.BadRequestError):  # made by another node
            await js.add_stream(config)

    await patiently("telemetry stream", add, startup_s)
