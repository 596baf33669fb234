"""Incidents and the caller's own notifications. A part of `Access` (a mixin)."""

from __future__ import annotations

import asyncio

from hazwatch.access.base import AccessBase
from hazwatch.auth import roles
from hazwatch.domain.errors import NotFound
from hazwatch.domain.limits import Priority


class IncidentAccess(AccessBase):
    # -- incidents ---------------------------------------------------------------------------------------------
    def _incident_org(self, incident_id: int) -> int:
        return self._inside(self.services.incidents.org_of(incident_id), f"incident {incident_id}")

    def incidents(self, state: str | None) -> list[dict]:
        return self.services.incidents.list(self.scope.org_ids, state)

    def incident(self, incident_id: int) -> dict:
        self._incident_org(incident_id)
        detail = self.services.incidents.detail(incident_id)
        if not roles.allowed(self.principal.role, roles.USERS_MANAGE):
            # who was told is shown, but a person's e-mail address only to those who manage users
            detail["notifications"] = [n | {"address": None} if n.get("channel") == "email" else n
                                       for n in detail.get("notifications", [])]
        return detail

    async def open_incident(self, enterprise: str, title: str, hazard_type: str, priority: str,
                            location: str | None) -> dict:
        org_id = self._org_by_code(enterprise)
        fut = self.services.incidents.open_by_hand(org_id, title, hazard_type, int(Priority.parse(priority)),
                                                   location, self.principal.name, self._incident_audit(org_id))
        return await asyncio.to_thread(self.incident, await asyncio.wrap_future(fut))

    def _incident_audit(self, org_id: int):
        """The desk's audit hook: (conn, action, what), the incident named in `what`."""
        audit = self._audit_to(org_id, "incident")
        return lambda conn, action, what: audit(conn, action, what["incident"], what)

    async def incident_command(self, incident_id: int, command: str, **kw) -> dict:
        """A desk command (transition, acknowledge, comment, task, report_made, confirm_interlock) as this
        principal, audited in the command's own transaction."""
        org_id = self._incident_org(incident_id)
        desk = self.services.incidents
        await asyncio.wrap_future(getattr(desk, command)(incident_id, actor=self.principal.name,
                                                         audit=self._incident_audit(org_id), **kw))
        return await asyncio.to_thread(desk.detail, incident_id)

    def report_file(self, incident_id: int, kind: str):
        self._incident_org(incident_id)
        desk = self.services.incidents
        html, pdf = desk.report_paths(incident_id)
        path = html if kind == "html" else pdf
        if not path.exists():
            raise NotFound(f"incident {incident_id} has no close-out report yet (it is written when the incident "
                           "is closed)")
        return path

    # -- notifications -------------------------------------------------------------------------------------------
    def _user_id(self) -> int:
        if self.principal.user_id is None:
            raise NotFound("notifications belong to users; this credential is not a user")
        return self.principal.user_id

    def inbox(self, unread: bool) -> list[dict]:
        return self.services.notifier.inbox(self._user_id(), unread)

    def mark_read(self, notification_id: int) -> dict:
        n = self.services.notifier.mark_read(self._user_id(), notification_id)
        if n is None:
            raise NotFound(f"notification {notification_id} not found")
        return n

    def notification_prefs(self) -> dict:
        return self.services.notifier.prefs(self._user_id())

    def set_notification_prefs(self, prefs: dict) -> dict:
        return self.services.notifier.set_prefs(self._user_id(), prefs)
