"""The services as one principal may see and use them, the single place where tenant scope is applied:
reads return only what lies in the caller's scope, a lookup outside it raises NotFound (a 404, never
data), every write is checked and audited. One per request; no handler filters by scope itself."""

from __future__ import annotations

from dataclasses import dataclass

from hazwatch.access.alarms import AlarmAccess
from hazwatch.access.catalog import CatalogAccess
from hazwatch.access.evaluation import EvaluationAccess
from hazwatch.access.incidents import IncidentAccess
from hazwatch.access.telemetry import TelemetryAccess
from hazwatch.auth import Principal
from hazwatch.services import Services


@dataclass
class Access(TelemetryAccess, AlarmAccess, IncidentAccess, EvaluationAccess, CatalogAccess):
    """One principal's view of the services, one per request; each concern in a module of its own."""

    services: Services
    principal: Principal
    remote: str | None = None


__all__ = ["Access"]
