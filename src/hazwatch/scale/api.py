"""An API node: the whole REST API and console over the shared database, holding no alarm state.

Reads come from PostgreSQL. Readings are published like an ingest node's. An operator's alarm
command goes as a NATS request to `hz.cmd.<partition>`, answered by the worker that holds the
alarm's partition (the single writer of its state), which writes the command and its audit entry
in one transaction. Live values come from the workers' `readings.latest` events (the newest
reading per sensor of each stored batch) and are passed on to this node's WebSocket clients.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future

import nats.errors
import numpy as np
import orjson

from hazwatch.alarms.manager import AlarmCommandError
from hazwatch.auth.audit import CommandAudit
from hazwatch.domain.batch import NO_TS, ReadingBatch
from hazwatch.scale import partitions
from hazwatch.scale.ingest import IngestNode

READINGS_LATEST = "readings.latest"  # bus subject: the newest reading per sensor of a stored batch


def command_subject(partition: int) -> str:
    return f"hz.cmd.{partition}"


class ApiNode(IngestNode):
    command_timeout_s = 5.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._last_ts = np.full(self.index.size, NO_TS, np.int64)
        self._last_value = np.full(self.index.size, np.nan)

    def saw(self, batch: ReadingBatch) -> None:
        """A worker's latest values (bus handler; batches sorted by sensor, ts)."""
        if not len(batch):
            return
        rows = batch.newest_per_sensor()
        s, t, v = batch.sensor[rows], batch.ts[rows], batch.value[rows]
        size = int(s.max()) + 1
        if size > len(self._last_ts):
            self._last_ts = np.concatenate([self._last_ts, np.full(size - len(self._last_ts), NO_TS, np.int64)])
            self._last_value = np.concatenate([self._last_value, np.full(size - len(self._last_value), np.nan)])
        newer = t > self._last_ts[s]
        self._last_ts[s[newer]], self._last_value[s[newer]] = t[newer], v[newer]

    def latest(self, sensor: int) -> tuple[int, float] | None:
        if sensor < len(self._last_ts) and self._last_ts[sensor] != NO_TS:
            return int(self._last_ts[sensor]), float(self._last_value[sensor])
        return None

    def alarm_command(self, alarm_id: int, action: str, actor: str, comment: str | None = None,
                      minutes: float | None = None, max_minutes: float = 1440,
                      audit: CommandAudit | None = None) -> Future:
        if audit is None or audit.org_id is None:
            raise ValueError("an API node sends alarm commands with their audit entry (and the alarm's org)")
        return asyncio.run_coroutine_threadsafe(
            self._command(alarm_id, action, actor, comment, minutes, max_minutes, audit), self._loop)

    async def _command(self, alarm_id: int, action: str, actor: str, comment: str | None, minutes: float | None,
                       max_minutes: float, audit: CommandAudit) -> dict:
        p = int(partitions.of_orgs(audit.org_id, self.count))
        body = orjson.dumps({"alarm_id": alarm_id, "action": action, "actor": actor, "comment": comment,
                             "minutes": minutes, "max_minutes": max_minutes, "audit": audit.as_dict()})
        try:
            msg = await self._nc.request(command_subject(p), body, timeout=self.command_timeout_s)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError, TimeoutError):
            raise AlarmCommandError(503, f"no worker holds partition {p} (alarm {alarm_id}) right now; "
                                         "try again in a few seconds") from None
        doc = orjson.loads(msg.data)
        if "error" in doc:
            raise AlarmCommandError(int(doc["error"]["status"]), str(doc["error"]["message"]))
        return doc["alarm"]

    @property
    def running(self) -> bool:
        return self.ready
