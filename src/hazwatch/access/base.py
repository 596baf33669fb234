"""What every part of `Access` stands on: the caller, its scope, and the error and object names
the parts share."""

from __future__ import annotations

from functools import cached_property

from hazwatch.auth import Actor, Principal, Scope
from hazwatch.domain.errors import Conflict, Invalid, NotFound, ServiceError, Unavailable
from hazwatch.services import Services

_ERRORS: dict[int, type[ServiceError]] = {404: NotFound, 409: Conflict, 422: Invalid, 503: Unavailable}
_OBJECT = {"orgs": "org", "sites": "site", "hazard_sources": "hazard_source", "devices": "device",
           "endpoints": "endpoint", "sensors": "sensor", "units": "unit", "rules": "rule", "plans": "plan",
           "incident_triggers": "incident_trigger"}


class AccessBase:
    """The principal and the services; the parts below (mixins) reach the services only through it."""

    services: Services
    principal: Principal
    remote: str | None

    # -- who, where ---------------------------------------------------------------------------------
    @cached_property
    def scope(self) -> Scope:
        if self.principal.org_id is None:
            return Scope(None)
        return Scope(self.services.orgs.subtree(self.principal.org_id), self.principal.org_id)

    @property
    def actor(self) -> Actor:
        return self.principal.actor(self.remote)

    def _inside(self, org: int | None, what: str) -> int:
        """The org of something looked up, when the scope holds it; otherwise NotFound naming it,
        exactly as for something that does not exist."""
        if org is None or not self.scope.allows(org):
            raise NotFound(f"{what} not found")
        return org
