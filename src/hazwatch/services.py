"""The services an edge (API, CLI, simulator) calls, built once by app.py."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from hazwatch.alarms.queries import AlarmQueries
from hazwatch.auth import AuthService
from hazwatch.bus import Bus
from hazwatch.catalog import CatalogRepository, SensorIndex
from hazwatch.catalog.models import Org
from hazwatch.pipeline import Pipeline
from hazwatch.settings import Settings
from hazwatch.store import TelemetryStore


@dataclass
class Services:
    settings: Settings
    engine: Engine
    store: TelemetryStore
    catalog: CatalogRepository
    pipeline: Pipeline
    auth: AuthService
    alarm_queries: AlarmQueries
    bus: Bus

    @property
    def index(self) -> SensorIndex:
        return self.pipeline.index

    def org_subtree(self, org_id: int) -> frozenset[int]:
        with self.engine.connect() as conn:
            parent = dict(conn.execute(select(Org.id, Org.parent_id)).all())
        out = set()
        for oid in parent:
            cur: int | None = oid
            while cur is not None:
                if cur == org_id:
                    out.add(oid)
                    break
                cur = parent.get(cur)
        return frozenset(out)
