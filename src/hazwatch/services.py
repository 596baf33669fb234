"""The services an edge (API, CLI, simulator) calls, built once by app.py."""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sqlalchemy import Engine

from hazwatch import metrics
from hazwatch.alarms.hygiene import HygienePolicy
from hazwatch.alarms.queries import AlarmQueries
from hazwatch.auth import AuditLog, AuthService, DeviceCredentials, OrgTrees, UserDirectory
from hazwatch.auth.signing import BatchSignatures
from hazwatch.bus import Bus
from hazwatch.catalog import CatalogRepository, SensorIndex
from hazwatch.domain import Clock
from hazwatch.domain.batch import RawBatch
from hazwatch.incidents.desk import IncidentDesk
from hazwatch.incidents.notify import Notifier
from hazwatch.ingest.adapter import Adapter
from hazwatch.packs.service import ShippedPacks
from hazwatch.risk.feed import Feed
from hazwatch.risk.hidden import HiddenDangerRegister
from hazwatch.risk.overview import ColourRule
from hazwatch.risk.periodic import Reports
from hazwatch.risk.points import RiskPoints
from hazwatch.settings import Settings
from hazwatch.store import TelemetryStore

if TYPE_CHECKING:
    from hazwatch.ledger.log import Ledger
    from hazwatch.scale.election import Election
    from hazwatch.scale.worker import WorkerNode



@runtime_checkable
class Writer(Protocol):
    """What stands where the pipeline stands, in every role: the pipeline itself (roles all and
    worker) or a stand-in that publishes to the workers (`scale.ingest.IngestNode` in the ingest
    role, `scale.api.ApiNode` in the api role). Access and the edges use only this."""

    clock: Clock
    index: SensorIndex

    def ingest(self, raw: RawBatch) -> Future: ...
    def device_status(self, code: str, online: bool, at_us: int) -> Future: ...
    def alarm_command(self, alarm_id: int, action: str, actor: str, comment: str | None = None,
                      minutes: float | None = None, max_minutes: float = 1440,
                      audit: Callable | None = None) -> Future: ...
    def latest(self, sensor: int) -> tuple[int, float] | None: ...
    def queued(self) -> int: ...
    def reload_catalog(self) -> None: ...
    def readiness(self) -> tuple[bool, str]: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


def hygiene_policy(settings: Settings) -> HygienePolicy:
    """The alarm hygiene thresholds from the settings: the live engine flags by them and the KPIs
    count by them (`KpiPolicy`), so there is one place they are read."""
    return HygienePolicy(settings.flood_alarms, settings.flood_window_s, settings.chatter_activations,
                         settings.chatter_window_s, settings.chatter_suppress_s, settings.first_out_window_s)

@dataclass
class Services:
    settings: Settings
    engine: Engine
    store: TelemetryStore
    catalog: CatalogRepository
    pipeline: Writer
    auth: AuthService
    alarm_queries: AlarmQueries
    bus: Bus
    audit: AuditLog
    orgs: OrgTrees
    users: UserDirectory
    device_credentials: DeviceCredentials
    signatures: BatchSignatures  # signed device batches (edge gateways): forgeries and replays refused
    incidents: IncidentDesk
    notifier: Notifier
    risk_points: RiskPoints
    hidden_dangers: HiddenDangerRegister
    colour_rule: ColourRule
    packs: ShippedPacks  # the shipped packs, applied, upgraded and fitted per enterprise
    adapters: list[Adapter] = field(default_factory=list)  # protocol adapters run beside the API
    reports: Reports | None = None  # periodic reports (reading through a scope of these services: set after)
    feed: Feed | None = None  # the summary for the tier above (likewise)
    ledger: Ledger | None = None  # the transparency log (None when HAZWATCH_LEDGER_ENABLED is false)
    worker: WorkerNode | None = None  # a scale-out worker's leases and consumers (role worker)
    background: list = field(default_factory=list)  # run once per installation beside the desk (tier links)
    node: str = ""  # this node's name (leases, logs)
    election: Election | None = None  # an API node's candidacy for running the installation's singletons

    def ready(self) -> tuple[bool, str]:
        """Whether this node does its work now, and if not, why (the readiness probe)."""
        if self.worker is not None:
            if self.worker.failure is not None:
                return False, f"worker stopped: {self.worker.failure}"
            return (True, f"partitions {self.worker.owned}") if self.worker.ready.is_set() \
                else (False, "taking partition leases")
        ok, why = self.pipeline.readiness()
        if ok and self.election is not None:
            why += "; " + ("runs the installation's singletons" if self.election.held
                           else "standing by for the installation's singletons")
        return ok, why

    def refresh_gauges(self) -> None:
        """The gauges /metrics reads at scrape time: the writer's queue, the ledger's size, memory."""
        metrics.QUEUE.set(self.pipeline.queued())
        metrics.PY_BLOCKS.set(sys.getallocatedblocks())
        metrics.STORE_MEMORY.set(self.store.memory_bytes())
        if self.ledger is not None:
            metrics.LEDGER.set(self.ledger.size)
            pub = self.ledger.published()
            metrics.LEDGER_PUBLISHED.set(pub[0] if pub else 0)

    @property
    def index(self) -> SensorIndex:
        return self.pipeline.index

    def catalog_changed(self) -> None:
        """After a catalog write on this process: the next request sees it at once."""
        self.pipeline.reload_catalog()
        self.orgs.invalidate()
