"""Alarms, their journal and ledger proofs, and the tier events a regulator sees. A part of `Access` (a mixin)."""

from __future__ import annotations

import asyncio

from hazwatch.access.base import AccessBase
from hazwatch.alarms import AlarmCommandError, public
from hazwatch.auth.audit import CommandAudit
from hazwatch.domain.errors import NotFound, by_status
from hazwatch.ledger.views import LedgerView


class AlarmAccess(AccessBase):
    def alarms(self, state: str) -> list[dict]:
        idx = self.services.index
        return [public(p, idx, owner) for p in self.services.alarm_queries.list(state)
                if (owner := idx.owner_of(p)) is not None and self.scope.allows(owner.org_id)]

    def floods(self) -> list[dict]:
        return [{**f, "enterprise": self.services.orgs.code_of(org)}
                for f in self.services.alarm_queries.floods() if self.scope.allows(org := f.pop("org_id"))]

    def _point(self, alarm_id: int):
        p = self.services.alarm_queries.get(alarm_id)
        self._inside(self._alarm_org(p) if p is not None else None, f"alarm {alarm_id}")
        return p

    def alarm(self, alarm_id: int) -> dict:
        return public(self._point(alarm_id), self.services.index)

    def journal(self, alarm_id: int) -> list[dict]:
        self._point(alarm_id)
        return self.services.alarm_queries.journal(alarm_id)

    def journal_proof(self, alarm_id: int, row: int) -> str:
        """The tlog-proof of one journal row of an alarm in scope, the row itself included."""
        rows = self.journal(alarm_id)
        ledger = self.ledger
        if not any(r["id"] == row for r in rows):
            raise NotFound(f"alarm {alarm_id} has no journal row {row}")
        return ledger.record_proof("alarm_journal", row, f"journal row {row}")

    @property
    def ledger(self) -> LedgerView:
        """The transparency log's status and entry proofs: public to every user of the installation."""
        if self.services.ledger is None:
            raise NotFound("the ledger is turned off on this installation (HAZWATCH_LEDGER_ENABLED=false)")
        return LedgerView(self.services.ledger, self.services.settings.ledger_interval_s)

    async def alarm_command(self, alarm_id: int, action: str, comment: str | None = None,
                            minutes: float | None = None) -> dict:
        audit = CommandAudit(self.actor, action, alarm_id, self._alarm_org(self._point(alarm_id)), comment)
        fut = self.services.pipeline.alarm_command(alarm_id, action, self.principal.name, comment, minutes,
                                                   self.services.settings.max_shelve_minutes, audit)
        try:
            return await asyncio.wrap_future(fut)
        except AlarmCommandError as e:
            raise by_status(e.status, e.message) from None

    def tier_events(self, park: str | None, kind: str | None, limit: int) -> list[dict]:
        """What the parks below sent up: all of it for the whole installation's users, otherwise
        what the parks in the caller's scope sent (the park's org code is its uplink name)."""
        from hazwatch.scale.tiers import received  # (NATS's client loads only where tiers are read)

        nodes = self.services.orgs.current().nodes
        parks = None if self.scope.everything else {nodes[i].code for i in self.scope.org_ids if i in nodes}
        return received(self.services.engine, parks, park, kind, limit)
