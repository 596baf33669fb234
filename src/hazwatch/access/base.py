"""What every part of `Access` stands on: the caller, its scope, and the checks that put a named
object inside it or report it as not found."""

from __future__ import annotations

from functools import cached_property

from hazwatch.auth import Actor, Principal, Scope
from hazwatch.auth.audit import ObjectAudit
from hazwatch.domain.errors import NotFound
from hazwatch.services import Services


class AccessBase:
    """The principal and the services; the parts below (mixins) reach the services only through it."""

    services: Services
    principal: Principal
    remote: str | None

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

    def _org_by_code(self, code: str) -> int:
        node = self.services.orgs.current().by_code(code)
        return self._inside(node.id if node is not None else None, f"org {code!r}")

    def _alarm_org(self, p) -> int | None:
        """The org an alarm belongs to (through its sensor, device, unit or rule), None if gone."""
        owner = self.services.index.owner_of(p)
        return owner.org_id if owner is not None else None

    def _audit_to(self, org_id: int, object_type: str) -> ObjectAudit:
        return ObjectAudit(self.actor, object_type, org_id)
