"""The services as one principal may see and use them: the single place where tenant scope is
applied. Every read returns only what lies in the caller's scope, every lookup of something outside
it raises NotFound (so a 404, never data), and every write is checked against the scope and goes to
the audit log. The API builds one Access per request; no handler filters by scope itself."""

from __future__ import annotations

from dataclasses import dataclass

from hazwatch.access.accounts import AccountAccess
from hazwatch.access.alarms import AlarmAccess
from hazwatch.access.catalog import CatalogAccess
from hazwatch.access.evaluation import EvaluationAccess
from hazwatch.access.incidents import IncidentAccess
from hazwatch.access.telemetry import TelemetryAccess
from hazwatch.auth import Principal
from hazwatch.catalog.errors import CatalogError
from hazwatch.services import Services


@dataclass
class Access(TelemetryAccess, AlarmAccess, IncidentAccess, EvaluationAccess, CatalogAccess, AccountAccess):
    """One principal's view of the services, one per request; each concern in a module of its own."""

    services: Services
    principal: Principal
    remote: str | None = None


__all__ = ["Access", "CatalogError"]
