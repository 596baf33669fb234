"""Alarms, their journal and ledger proofs, and the tier events a regulator sees. A part of `Access` (a mixin)."""

from __future__ import annotations

import asyncio

from hazwatch.access.base import _ERRORS, AccessBase
from hazwatch.alarms import AlarmCommandError, public
from hazwatch.auth.audit import CommandAudit
from hazwatch.domain.errors import Conflict, NotFound, ServiceError


class AlarmAccess(AccessBase):
    # -- alarms -----------------------------------------------------------------------------------------
    def _alarm_org(self, p) -> int | None:
        """The org an alarm belongs to (through its sensor, device, unit or rule), None if gone."""
        owner = self.services.index.owner_of(p)
        return owner.org_id if owner is not None else None

    def alarms(self, state: str) -> list[dict]:
        idx = self.services.index
        return [public(p, idx, owner) for p in self.services.alarm_queries.list(state)
                if (owner := idx.owner_of(p)) is not None and self.scope.allows(owner.org_id)]

    def floods(self) -> list[dict]:
        tree = self.services.orgs.current()
        out = []
        for f in self.services.alarm_queries.floods():
            org = f.pop("org_id")
            if self.scope.allows(org):
                node = tree.nodes.get(org)
                out.append({**f, "enterprise": node.code if node is not None else None})
        return out

    def _point(self, alarm_id: int):
        p = self.services.alarm_queries.get(alarm_id)
        self._inside(self._alarm_org(p) if p is not None else None, f"alarm {alarm_id}")
        return p

    def alarm(self, alarm_id: int) -> dict:
        return public(self._point(alarm_id), self.services.index)

    def journal_proof(self, alarm_id: int, row: int) -> str:
        """The tlog-proof of one journal row of an alarm in scope, the row itself included."""
        self._point(alarm_id)
        ledger = self._ledger()
        if not any(r["id"] == row for r in self.services.alarm_queries.journal(alarm_id)):
            raise NotFound(f"alarm {alarm_id} has no journal row {row}")
        index = ledger.record_index("alarm_journal", row)
        if index is None:
            raise Conflict(f"journal row {row} is not sealed yet: the ledger seals new rows every "
                           f"{self.services.settings.ledger_interval_s:g} s")
        try:
            return ledger.prove(index)
        except LookupError as e:
            raise Conflict(str(e)) from None

    def ledger_proof(self, index: int) -> str:
        """Any entry's proof, without the record it seals (entries are public; records are not)."""
        ledger = self._ledger()
        if index >= ledger.size:
            raise NotFound(f"the log has {ledger.size} entries; there is no entry {index}")
        try:
            return ledger.prove(index, with_record=False)
        except LookupError as e:
            raise Conflict(str(e)) from None

    def ledger_status(self) -> dict:
        ledger = self._ledger()
        pub = ledger.published()
        sizes = ledger.witness_sizes()
        return {"origin": ledger.origin, "log_vkey": ledger.signer.verifier.vkey, "size": ledger.size,
                "published_size": pub[0] if pub else 0, "checkpoint": pub[1] if pub else None,
                "quorum": ledger.quorum,
                "witnesses": [{"name": w.name, "url": w.url, "vkey": w.verifier.vkey,
                               "cosigned_size": sizes.get(w.name, 0)}
                              for w in ledger.witnesses]}

    def _ledger(self):
        if self.services.ledger is None:
            raise NotFound("the ledger is turned off on this installation (HAZWATCH_LEDGER_ENABLED=false)")
        return self.services.ledger

    def journal(self, alarm_id: int) -> list[dict]:
        self._point(alarm_id)
        return self.services.alarm_queries.journal(alarm_id)

    async def alarm_command(self, alarm_id: int, action: str, comment: str | None = None,
                            minutes: float | None = None) -> dict:
        org_id = self._alarm_org(self._point(alarm_id))
        audit = CommandAudit(self.actor, action, alarm_id, org_id, comment)
        fut = self.services.pipeline.alarm_command(alarm_id, action, self.principal.name, comment, minutes,
                                                   self.services.settings.max_shelve_minutes, audit)
        try:
            return await asyncio.wrap_future(fut)
        except AlarmCommandError as e:
            raise _ERRORS.get(e.status, ServiceError)(e.message) from None

    # -- tiers ---------------------------------------------------------------------------------------------------
    def tier_events(self, park: str | None, kind: str | None, limit: int) -> list[dict]:
        """What the parks below sent up: all of it for the whole installation's users, otherwise
        what the parks in the caller's scope sent (the park's org code is its uplink name)."""
        from hazwatch.scale.tiers import received

        parks = None
        if not self.scope.everything:
            tree = self.services.orgs.current()
            parks = {tree.nodes[i].code for i in self.scope.org_ids if i in tree.nodes}
        return received(self.services.engine, parks, park, kind, limit)
