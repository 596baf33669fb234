"""Sensors, devices, their series and posted telemetry, within the caller's scope; this process's
health (no tenant's data). A part of `Access` (a mixin)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future

import numpy as np

from hazwatch.access.base import AccessBase
from hazwatch.domain.batch import US
from hazwatch.ingest.payload import decode
from hazwatch.normalize import RawBatch
from hazwatch.store.base import SeriesFrame


class TelemetryAccess(AccessBase):
    def sensor_ids(self) -> np.ndarray:
        idx = self.services.index
        ids = np.flatnonzero(idx.exists)
        return ids[self.scope.mask(idx.org_id[ids])]

    def sensor(self, tag: str) -> int:
        idx = self.services.index
        sid = idx.tag_to_id.get(tag)
        self._inside(int(idx.org_id[sid]) if sid is not None else None, f"sensor {tag!r}")
        return sid

    def sensor_view(self, sid: int) -> dict:
        """A sensor of `sensor()`'s finding: its catalog entry with its newest evaluated reading."""
        info = dict(self.services.index.info[sid])
        latest = self.services.pipeline.latest(sid)
        info["last_ts"], info["last_value"] = (latest[0] / US, latest[1]) if latest else (None, None)
        return info

    def sensor_views(self, enterprise: str | None, kind: str | None) -> list[dict]:
        return [self.sensor_view(sid) for sid in self.services.index.matching(self.sensor_ids(), enterprise, kind)]

    def devices(self) -> list[dict]:
        return self.services.index.device_list(self.sensor_ids().tolist())

    def adapters_health(self) -> list[dict]:
        return [a.health().as_dict() for a in self.services.adapters]

    def refresh_gauges(self) -> None:
        """The gauges /metrics reads at scrape time (the writer's queue, the ledger's size)."""
        self.services.refresh_gauges()

    def now_us(self) -> int:
        return self.services.pipeline.clock.now_us()

    def telemetry_batch(self, body: bytes, headers: Mapping[str, str]) -> tuple[RawBatch, int | None]:
        """A posted batch decoded and scoped (`restrict`); a device's signature is checked first, and
        the sequence it carries is returned, to be recorded once the batch is accepted."""
        s, seq = self.services, None
        if self.principal.device_id is not None:
            seq = s.signatures.check_posted(headers, self.principal.token_id, body, s.settings.require_signed_batches)
        return self.restrict(decode(body, s.index, s.settings.max_batch_readings)), seq

    def ingest(self, raw: RawBatch) -> Future:
        """Queue a scoped batch for the writer: the future resolves once it is durable."""
        return self.services.pipeline.ingest(raw)

    def batch_accepted(self, seq: int | None) -> None:
        """After the batch is stored (a database write: never on the writer's callback)."""
        if seq is not None:
            self.services.signatures.accepted(self.principal.token_id, seq)

    def series(self, tag: str, start_us: int, end_us: int, step_us: int | None, limit: int) -> SeriesFrame:
        return self.services.store.series(self.sensor(tag), start_us, end_us, step_us, limit)

    def restrict(self, raw: RawBatch) -> RawBatch:
        """The batch as the caller may write it (`auth.Scope.restrict`)."""
        idx = self.services.index
        return self.scope.restrict(raw, idx.org_id, idx.device_id, self.principal.device_id)
