"""The services as one principal may see and use them: the single place where tenant scope is
applied. Every read returns only what lies in the caller's scope, every lookup of something outside
it raises NotFound (so a 404, never data), and every write is checked against the scope and goes to
the audit log. The API builds one Access per request; no handler filters by scope itself."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from sqlalchemy import select

from hazwatch import metrics, packs
from hazwatch.alarms import AlarmCommandError, public
from hazwatch.auth import Actor, Principal, Scope, roles
from hazwatch.auth.audit import CommandAudit
from hazwatch.auth.signing import SEQUENCE_HEADER, SIGNATURE_HEADER
from hazwatch.catalog.errors import CatalogError
from hazwatch.catalog.models import Device
from hazwatch.catalog.repository import ApplySummary
from hazwatch.catalog.schema import CatalogDoc, OrgDoc
from hazwatch.domain.batch import US
from hazwatch.domain.errors import Conflict, Invalid, NotFound, ServiceError, Unavailable
from hazwatch.domain.limits import Priority
from hazwatch.ingest.payload import decode
from hazwatch.normalize import RawBatch
from hazwatch.packs import Pack
from hazwatch.services import Services, hygiene_policy
from hazwatch.store.base import SeriesFrame


@dataclass
class Access:
    services: Services
    principal: Principal
    remote: str | None = None

    # -- who, where ---------------------------------------------------------------------------------
    @cached_property
    def scope(self) -> Scope:
        if self.principal.org_id is None:
            return Scope(None)
        return Scope(self.services.orgs.subtree(self.principal.org_id), self.principal.org_id)

    @property
    def actor(self) -> Actor:
        return self.principal.actor(self.remote)

    # -- sensors and telemetry ----------------------------------------------------------------------
    def sensor_ids(self) -> np.ndarray:
        idx = self.services.index
        ids = np.flatnonzero(idx.exists)
        return ids[self.scope.mask(idx.org_id[ids])]

    def sensor(self, tag: str) -> int:
        idx = self.services.index
        sid = idx.tag_to_id.get(tag)
        if sid is None or not self.scope.allows(int(idx.org_id[sid])):
            raise NotFound(f"sensor {tag!r} not found")
        return sid

    def sensor_view(self, sid: int) -> dict:
        """A sensor of `sensor()`'s finding: its catalog entry with its newest evaluated reading."""
        info = dict(self.services.index.info[sid])
        latest = self.services.pipeline.latest(sid)
        info["last_ts"], info["last_value"] = (latest[0] / US, latest[1]) if latest else (None, None)
        return info

    def sensor_views(self, enterprise: str | None, kind: str | None) -> list[dict]:
        info = self.services.index.info
        return [self.sensor_view(sid) for sid in self.sensor_ids().tolist()
                if (not enterprise or info[sid]["enterprise"] == enterprise)
                and (not kind or info[sid]["kind"] == kind)]

    def now_us(self) -> int:
        return self.services.pipeline.clock.now_us()

    def telemetry_batch(self, body: bytes, headers: Mapping[str, str]) -> tuple[RawBatch, int | None]:
        """A posted batch decoded and scoped (`restrict`); a device's signature is checked first, and
        the sequence it carries is returned, to be recorded once the batch is accepted."""
        s, seq = self.services, None
        if self.principal.device_id is not None:
            secret = headers.get("authorization", "")[7:].strip()
            seq = s.signatures.check(secret, self.principal.token_id, headers.get(SEQUENCE_HEADER),
                                     headers.get(SIGNATURE_HEADER), body, s.settings.require_signed_batches)
        return self.restrict(decode(body, s.index, s.settings.max_batch_readings)), seq

    def ingest(self, raw: RawBatch) -> Future:
        """Queue a scoped batch for the writer: the future resolves once it is durable."""
        return self.services.pipeline.ingest(raw)

    def batch_accepted(self, seq: int | None) -> None:
        """After the batch is stored (a database write: never on the writer's callback)."""
        if seq is not None:
            self.services.signatures.accepted(self.principal.token_id, seq)

    def series(self, tag: str, start_us: int, end_us: int, step_us: int | None, limit: int) -> SeriesFrame:
        return self.services.store.series(self.sensor(tag), start_us, end_us, step_us, limit)

    def restrict(self, raw: RawBatch) -> RawBatch:
        """Readings for sensors outside the scope read as unknown sensors; a device credential may
        write only its own device's sensors, and is told so per reading."""
        if self.scope.everything and self.principal.device_id is None:
            return raw
        idx = self.services.index
        known = raw.sensor >= 0
        sid = np.where(known, raw.sensor, 0)
        outside = known & ~self.scope.mask(idx.org_id[sid])
        if outside.any():
            raw.sensor = np.where(outside, -1, raw.sensor).astype(raw.sensor.dtype)
            known &= ~outside
        if self.principal.device_id is not None:
            raw.denied = known & (idx.device_id[sid] != self.principal.device_id)
        return raw

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
        org = self._alarm_org(p) if p is not None else None
        if org is None or not self.scope.allows(org):
            raise NotFound(f"alarm {alarm_id} not found")
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

    # -- incidents ---------------------------------------------------------------------------------------------
    def _incident_org(self, incident_id: int) -> int:
        org = self.services.incidents.org_of(incident_id)
        if org is None or not self.scope.allows(org):
            raise NotFound(f"incident {incident_id} not found")
        return org

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

    # -- evaluation: hazard grades, risk points, colours, hidden dangers ---------------------------------------------
    def _org_by_code(self, code: str) -> int:
        node = self.services.orgs.current().by_code(code)
        if node is None or not self.scope.allows(node.id):
            raise NotFound(f"org {code!r} not found")
        return node.id

    def _hazard_source(self, code: str | None, org_id: int) -> int | None:
        if code is None:
            return None
        from hazwatch.catalog.models import HazardSource

        with self.services.engine.connect() as conn:
            row = conn.execute(select(HazardSource.id, HazardSource.org_id).where(HazardSource.code == code)).first()
        if row is None or row.org_id != org_id:
            raise Invalid(f"hazard source {code!r} is not one of this enterprise's")
        return row.id

    def _audit_to(self, org_id: int, object_type: str):
        actor, record = self.actor, self.services.audit.record

        def audit(conn, action: str, object_id: int, what: dict) -> None:
            record(conn, actor, action, object_type, object_id, org_id, after=what)

        return audit

    def major_hazards(self) -> list[dict]:
        from hazwatch.risk.overview import grade_sources

        return [{k: v for k, v in s.items() if k != "org_id"} for s in grade_sources(self.services.engine,
                                                                                    self.scope.org_ids)]

    def risk_points(self) -> list[dict]:
        return [self._with_enterprise(p) for p in self.services.risk_points.list(self.scope.org_ids)]

    def assess_risk_point(self, enterprise: str, hazard_source: str | None, location: str | None, name: str,
                          method: str, factors: dict, measures: str | None) -> dict:
        org_id = self._org_by_code(enterprise)
        hs = self._hazard_source(hazard_source, org_id)
        point = self.services.risk_points.assess(org_id, hs, location, name, method, factors, measures,
                                                 self.principal.name, self._audit_to(org_id, "risk_point"))
        return self._with_enterprise(point)

    def _with_enterprise(self, item: dict) -> dict:
        node = self.services.orgs.current().nodes.get(item.pop("org_id"))
        return {**item, "enterprise": node.code if node else None}

    def risk_overview(self) -> list[dict]:
        from hazwatch.risk.overview import grade_sources
        from hazwatch.risk.views import overview

        tree = self.services.orgs.current()
        ents = {n.id: (n.code, n.name) for n in tree.nodes.values()
                if n.kind == "enterprise" and self.scope.allows(n.id)}
        ids = frozenset(ents)
        alarms = [(org, p) for p in self.services.alarm_queries.list("active") if (org := self._alarm_org(p)) in ents]
        incidents = [(org.id, i) for i in self.services.incidents.list(ids, "open")
                     if (org := tree.by_code(i["enterprise"])) is not None]
        return overview(ents, alarms, incidents, grade_sources(self.services.engine, ids),
                        self.services.risk_points.list(ids), self.services.hidden_dangers.overdue_by_org(ids),
                        self.services.colour_rule)

    def kpis(self, enterprise: str | None, start: int, end: int, bucket_us: int | None = None) -> dict:
        from hazwatch.risk.views import kpis

        area = frozenset({self._org_by_code(enterprise)}) if enterprise is not None else self.scope.org_ids
        idx, queries = self.services.index, self.services.alarm_queries
        alarms = {p.id: {"label": f"{owner.code} {p.condition}", "priority": p.priority, "active": p.active,
                         "raised_at": p.raised_at} for p in queries.list("all")
                  if (owner := idx.owner_of(p)) is not None and self.scope.allows(owner.org_id)
                  and (area is None or owner.org_id in area)}
        return kpis(enterprise, start, end, alarms, queries.events_between(list(alarms), start, end),
                    self.services.incidents.response_times(area, start, end), hygiene_policy(self.services.settings),
                    bucket_us)

    def pack_report(self, enterprise: str, start: int, end: int) -> list[dict]:
        """The report sections the enterprise's packs add (`risk.views.pack_sections`)."""
        from hazwatch.risk.views import pack_sections

        _, installs = self.pack_installs(enterprise)
        if not any(sec["tags"] for i in installs for sec in i["report"]):
            return []
        queries = self.services.alarm_queries
        names = {s.tag: s.name for s in self.services.catalog.export(self.scope.org_ids).sensors}
        return pack_sections(installs, queries.list("all"), self.services.index,
                             lambda ids: queries.events_between(ids, start, end, ("raised",)), names)

    def _report(self, report_id: int) -> dict:
        r = self.services.reports.get(report_id)
        if not self.scope.allows(r["org_id"]):
            raise NotFound(f"report {report_id} not found")
        return r

    def reports(self) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "org_id"} for r in self.services.reports.list(self.scope.org_ids)]

    def request_report(self, scope: str, period: str, lang: str) -> dict:
        r = self.services.reports.generate(self._org_by_code(scope), period, lang, self.principal.name)
        return {k: v for k, v in r.items() if k != "org_id"}

    def report_path(self, report_id: int, kind: str):
        r = self._report(report_id)
        path = self.services.reports.path(r, kind)
        if not path.exists():
            raise NotFound(f"report {report_id}'s {kind} file is gone; request it again")
        return path

    def summary(self, org: str | None) -> dict:
        from hazwatch.feed import summary

        if org is not None:
            self._org_by_code(org)
            return self.services.feed.for_org(self.services.orgs.current().by_code(org).id)
        root = self.services.orgs.current().nodes.get(self.principal.org_id) if self.principal.org_id else None
        return summary(self, root.code if root else "installation", self.services.pipeline.clock.now_us())

    def _hd_org(self, hd_id: int) -> int:
        org = self.services.hidden_dangers.org_of(hd_id)
        if org is None or not self.scope.allows(org):
            raise NotFound(f"hidden danger {hd_id} not found")
        return org

    def hidden_dangers(self, state: str | None) -> list[dict]:
        return [self._with_enterprise(h) for h in self.services.hidden_dangers.list(self.scope.org_ids, state)]

    def hidden_danger(self, hd_id: int) -> dict:
        self._hd_org(hd_id)
        return self._with_enterprise(self.services.hidden_dangers.detail(hd_id))

    def report_hidden_danger(self, enterprise: str, hazard_source: str | None, fields: dict) -> dict:
        org_id = self._org_by_code(enterprise)
        hs = self._hazard_source(hazard_source, org_id)
        hd = self.services.hidden_dangers.report(org_id, hs, fields, self.principal.name,
                                                 self._audit_to(org_id, "hidden_danger"))
        return self.hidden_danger(hd)

    def move_hidden_danger(self, hd_id: int, to: str, comment: str | None, fields: dict) -> dict:
        org_id = self._hd_org(hd_id)
        self.services.hidden_dangers.transition(hd_id, to, self.principal.name, comment, fields,
                                                self._audit_to(org_id, "hidden_danger"))
        return self.hidden_danger(hd_id)

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

    # -- orgs and catalog ---------------------------------------------------------------------------------
    def orgs(self) -> list[dict]:
        tree = self.services.orgs.current()
        return [{"id": n.id, "code": n.code, "name": n.name, "kind": n.kind, "parent": n.parent}
                for n in sorted(tree.nodes.values(), key=lambda n: n.id) if self.scope.allows(n.id)]

    def org(self, org_id: int) -> dict:
        for o in self.orgs():
            if o["id"] == org_id:
                return o
        raise NotFound(f"org {org_id} not found")

    def create_org(self, name: str, kind: str, parent: int | None, code: str | None) -> dict:
        tree = self.services.orgs.current()
        if parent is None:
            if not self.scope.everything:
                raise Invalid("`parent` is required: new orgs go below an org in your scope")
            parent_code = None
        else:
            parent_code = self.org(parent)["code"]
        code = code or f"{kind[:1].upper()}-{secrets.token_hex(4).upper()}"
        if tree.by_code(code) is not None:
            raise Conflict(f"org code {code!r} is taken")
        try:
            self.apply_catalog(CatalogDoc(orgs=[OrgDoc(code=code, name=name, kind=kind, parent=parent_code)]), "org")
        except CatalogError as e:  # name the request's fields, not the catalog document's
            raise Invalid("; ".join(p.split(": ", 1)[-1].replace("orgs[0].", "") for p in e.problems)) from None
        node = self.services.orgs.current().by_code(code)
        assert node is not None
        self.__dict__.pop("scope", None)  # the new org widens this request's scope
        return self.org(node.id)

    def export_catalog(self) -> CatalogDoc:
        return self.services.catalog.export(self.scope.org_ids)

    def apply_catalog(self, doc: CatalogDoc, source: str = "catalog") -> ApplySummary:
        summary = self.services.catalog.apply(doc, source, self.scope.org_ids, self._catalog_audit())
        self.services.catalog_changed()
        return summary

    def _catalog_audit(self):
        """Every created or changed catalog item into the audit log, as this caller's."""
        actor, record = self.actor, self.services.audit.record

        def on_change(session, section: str, key: str, before: dict | None, after: dict) -> None:
            if section == "orgs":
                org_id = after["id"]
            elif section == "sensors":
                org_id = session.get(Device, after["device_id"]).org_id
            else:
                org_id = after["org_id"]
            record(session.connection(), actor, "catalog.update" if before else "catalog.create",
                   _OBJECT[section], key, org_id, before=before, after=after)

        return on_change

    # -- application packs ----------------------------------------------------------------------------------
    def apply_pack(self, name: str, org: str, params: dict, dry_run: bool) -> tuple[Pack, str, ApplySummary]:
        pack = packs.shipped_pack(name)
        code = packs.enterprise_code(self.services.catalog, org, self.scope.org_ids)
        _, summary = packs.apply(self.services.catalog, pack, code, params, dry_run, self._catalog_audit(),
                                 self.scope.org_ids, self.services.risk_points)
        if not dry_run:
            self.services.catalog_changed()
        return pack, code, summary

    def upgrade_pack(self, name: str, org: str, params: dict | None, dry_run: bool) -> tuple[str, packs.Upgrade]:
        pack = packs.shipped_pack(name)
        code = packs.enterprise_code(self.services.catalog, org, self.scope.org_ids)
        result = packs.upgrade(self.services.catalog, pack, code, params, dry_run, self._catalog_audit(),
                               self.scope.org_ids, self.services.risk_points)
        if not dry_run:
            self.services.catalog_changed()
        return code, result

    def fit_pack(self, name: str, org: str, since: int | None, until: int | None, detectors: list[str],
                 dry_run: bool) -> tuple[str, list, ApplySummary]:
        pack = packs.shipped_pack(name)
        code = packs.enterprise_code(self.services.catalog, org, self.scope.org_ids)
        fitted, summary = packs.fit(self.services.catalog, self.services.store, pack, code, since, until,
                                    detectors or None, dry_run, self._catalog_audit(), self.scope.org_ids)
        if not dry_run:
            self.services.catalog_changed()
        return code, fitted, summary

    def pack_installs(self, org: str) -> tuple[str, list[dict]]:
        code = packs.enterprise_code(self.services.catalog, org, self.scope.org_ids)
        return code, packs.installed(self.services.catalog, code)

    # -- users, keys, devices, audit ------------------------------------------------------------------------
    def users(self) -> list[dict]:
        return self.services.users.list(self.scope)

    def user(self, user_id: int) -> dict:
        return self.services.users.get(self.scope, user_id)

    def create_user(self, username: str, password: str, role: str, org: int | None) -> dict:
        return self.services.users.create(self.principal, self.scope, username, password, role, org, self.remote)

    def disable_user(self, user_id: int) -> dict:
        return self.services.users.disable(self.principal, self.scope, user_id, self.remote)

    def devices(self) -> list[dict]:
        idx = self.services.index
        out: dict[str, dict] = {}
        for sid in self.sensor_ids().tolist():
            info = idx.info[sid]
            d = out.setdefault(info["device"], {"code": info["device"], "enterprise": info["enterprise"],
                                                "sensors": []})
            d["sensors"].append(info["tag"])
        return sorted(out.values(), key=lambda d: d["code"])

    def issue_device_secret(self, code: str, label: str) -> dict:
        return self.services.device_credentials.issue(self.principal, self.scope, code, label, self.remote)

    def device_credentials(self, code: str) -> list[dict]:
        return self.services.device_credentials.list(self.scope, code)

    def revoke_device_secret(self, code: str, cred_id: int) -> dict:
        return self.services.device_credentials.revoke(self.principal, self.scope, code, cred_id, self.remote)

    # -- the caller's own credentials ------------------------------------------------------------------------
    def revoke_token(self, token: str) -> bool:
        return self.services.auth.revoke_token(token, self.principal, self.remote)

    def create_api_key(self, label: str, expires_days: int | None, password: str | None) -> dict:
        return self.services.auth.create_api_key(self.principal, label, expires_days, self.remote, password)

    def api_keys(self) -> list[dict]:
        return self.services.auth.api_keys(self.principal.user_id or 0)

    def revoke_api_key(self, key_id: int) -> None:
        self.services.auth.revoke_api_key(self.principal, key_id, self.remote)

    def change_password(self, new: str, current: str) -> None:
        self.services.users.set_password(self.principal, self.principal.user_id, new, current, self.remote)

    # -- this process (no tenant's data) ----------------------------------------------------------------------
    def adapters_health(self) -> list[dict]:
        return [a.health().as_dict() for a in self.services.adapters]

    def refresh_gauges(self) -> None:
        """The gauges /metrics reads at scrape time: the writer's queue and the ledger's size."""
        metrics.QUEUE.set(self.services.pipeline.queued())
        if self.services.ledger is not None:
            metrics.LEDGER.set(self.services.ledger.size)
            pub = self.services.ledger.published()
            metrics.LEDGER_PUBLISHED.set(pub[0] if pub else 0)

    def audit(self, **filters) -> list[dict]:
        return self.services.audit.query(self.scope, **filters)


_ERRORS: dict[int, type[ServiceError]] = {404: NotFound, 409: Conflict, 422: Invalid, 503: Unavailable}
_OBJECT = {"orgs": "org", "sites": "site", "hazard_sources": "hazard_source", "devices": "device",
           "endpoints": "endpoint", "sensors": "sensor", "units": "unit", "rules": "rule", "plans": "plan",
           "incident_triggers": "incident_trigger"}


__all__ = ["Access", "CatalogError"]
