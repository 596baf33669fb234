"""The audit log: every write to the installation's configuration and alarm state, recorded in
the same transaction as the write itself, so there is no change without its entry and no entry
without its change. Telemetry readings are not audited row by row: they are the record already
(and the ledger seals them)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from hazwatch.auth.models import AuditEntry
from hazwatch.auth.scope import Scope
from hazwatch.catalog.models import Device
from hazwatch.domain.clock import iso

_AUD = AuditEntry.__table__


@dataclass(frozen=True)
class Actor:
    """Who is acting, and from where: built per request from the principal."""

    name: str
    role: str
    remote: str | None = None


SYSTEM = Actor("system", "system")


@dataclass(frozen=True)
class CommandAudit:
    """The audit entry of an operator's alarm command, written in the command's own transaction
    (`entry(conn, before, after)`). Plain data, so that an API node can hand it to the worker that
    owns the alarm."""

    actor: Actor
    action: str
    alarm_id: int
    org_id: int | None
    comment: str | None = None

    def __call__(self, conn: Connection, before: dict, after: dict) -> None:
        AuditLog.record(conn, self.actor, f"alarm.{self.action}", "alarm", self.alarm_id, self.org_id,
                        before=before, after={**after, "comment": self.comment} if self.comment else after)

    def as_dict(self) -> dict:
        return {"actor": {"name": self.actor.name, "role": self.actor.role, "remote": self.actor.remote},
                "action": self.action, "alarm_id": self.alarm_id, "org_id": self.org_id, "comment": self.comment}

    @classmethod
    def of(cls, d: dict) -> CommandAudit:
        return cls(Actor(**d["actor"]), d["action"], int(d["alarm_id"]), d["org_id"], d.get("comment"))


# the audit log's object type of each catalog section
CATALOG_OBJECTS = {"orgs": "org", "sites": "site", "hazard_sources": "hazard_source", "devices": "device",
                   "endpoints": "endpoint", "sensors": "sensor", "units": "unit", "rules": "rule", "plans": "plan",
                   "incident_triggers": "incident_trigger"}


@dataclass(frozen=True)
class CatalogAudit:
    """The catalog repository's change hook, `(session, section, key, before, after)`: each created
    or changed item into the audit log as this actor's, under the org that holds it (a sensor's is
    its device's), whether the change came through the API, a pack or the command line."""

    actor: Actor

    def __call__(self, session, section: str, key: str, before: dict | None, after: dict) -> None:
        if section == "orgs":
            org_id = after["id"]
        elif section == "sensors":
            org_id = session.get(Device, after["device_id"]).org_id
        else:
            org_id = after["org_id"]
        AuditLog.record(session.connection(), self.actor, "catalog.update" if before else "catalog.create",
                        CATALOG_OBJECTS[section], key, org_id, before=before, after=after)


@dataclass(frozen=True)
class ObjectAudit:
    """A service's audit hook, `(conn, action, object_id, what)`, for objects of one type in one org."""

    actor: Actor
    object_type: str
    org_id: int

    def __call__(self, conn: Connection, action: str, object_id: int, what: dict) -> None:
        AuditLog.record(conn, self.actor, action, self.object_type, object_id, self.org_id, after=what)


@dataclass(frozen=True)
class NamedAudit:
    """A hook `(conn, action, what)` whose `what` names the object under `key` (the incident desk's)."""

    actor: Actor
    object_type: str
    org_id: int
    key: str

    def __call__(self, conn: Connection, action: str, what: dict) -> None:
        AuditLog.record(conn, self.actor, action, self.object_type, what[self.key], self.org_id, after=what)


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def record(conn: Connection, actor: Actor, action: str, object_type: str, object_id: Any,
               org_id: int | None, before: dict | None = None, after: dict | None = None) -> None:
        conn.execute(insert(_AUD).values(
            ts=time.time_ns() // 1000, actor=actor.name, actor_role=actor.role, org_id=org_id, action=action,
            object_type=object_type, object_id=str(object_id), before=before, after=after, remote=actor.remote))

    def query(self, scope: Scope, *, action: str | None = None, actor: str | None = None,
              object_type: str | None = None, since_us: int | None = None, until_us: int | None = None,
              limit: int = 1000) -> list[dict]:
        """Newest first, only entries whose org lies in scope (installation-level entries, with no
        org, only for unscoped readers)."""
        q = select(_AUD).order_by(_AUD.c.id.desc()).limit(limit)
        if not scope.everything:
            q = q.where(_AUD.c.org_id.in_(sorted(scope.org_ids or ())))
        for col, val in ((_AUD.c.action, action), (_AUD.c.actor, actor), (_AUD.c.object_type, object_type)):
            if val is not None:
                q = q.where(col == val)
        if since_us is not None:
            q = q.where(_AUD.c.ts >= since_us)
        if until_us is not None:
            q = q.where(_AUD.c.ts < until_us)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [{**r, "ts": iso(r["ts"])} for r in rows]
