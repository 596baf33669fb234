"""Incidents and the caller's own notifications. A part of `Access` (a mixin)."""

from __future__ import annotations

import asyncio

from hazwatch.access.base import AccessBase
from hazwatch.auth import roles
from hazwatch.auth.audit import NamedAudit
from hazwatch.domain.errors import NotFound
from hazwatch.domain.limits import Priority
from hazwatch.incidents.notify import Inbox


class IncidentAccess(AccessBase):
    def _incident_org(self, incident_id: int) -> int:
        return self._inside(self.services.incidents.org_of(incident_id), f"incident {incident_id}")

    def _incident_audit(self, org_id: int) -> NamedAudit:
        return NamedAudit(self.actor, "incident", org_id, "incident")

    def incidents(self, state: str | None) -> list[dict]:
        return self.services.incidents.list(self.scope.org_ids, state)

    def incident(self, incident_id: int) -> dict:
        """Who was told is shown, but a person's e-mail address only to those who manage users."""
        self._incident_org(incident_id)
        return self.services.incidents.detail(incident_id, roles.allowed(self.principal.role, roles.USERS_MANAGE))

    async def open_incident(self, enterprise: str, title: str, hazard_type: str, priority: str,
                            location: str | None) -> dict:
        org_id = self._org_by_code(enterprise)
        fut = self.services.incidents.open_by_hand(org_id, title, hazard_type, int(Priority.parse(priority)),
                                                   location, self.principal.name, self._incident_audit(org_id))
        return await asyncio.to_thread(self.incident, await asyncio.wrap_future(fut))

    async def incident_command(self, incident_id: int, command: str, **kw) -> dict:
        """A desk command (transition, acknowledge, comment, task, report_made, confirm_interlock) as this
        principal, audited in the command's own transaction."""
        audit, desk = self._incident_audit(self._incident_org(incident_id)), self.services.incidents
        await asyncio.wrap_future(getattr(desk, command)(incident_id, actor=self.principal.name, audit=audit, **kw))
        return await asyncio.to_thread(self.incident, incident_id)

    def report_file(self, incident_id: int, kind: str):
        self._incident_org(incident_id)
        return self.services.incidents.report_file(incident_id, kind)

    @property
    def inbox(self) -> Inbox:
        """The caller's own notifications; a credential that is not a user has none."""
        if self.principal.user_id is None:
            raise NotFound("notifications belong to users; this credential is not a user")
        return Inbox(self.services.notifier, self.principal.user_id)
