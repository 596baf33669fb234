"""Hazard grades, risk points, colours, KPIs, reports, the summary and hidden dangers: the read
models get their scoped plain inputs from here. A part of `Access` (a mixin)."""

from __future__ import annotations

from sqlalchemy import select

from hazwatch.access.base import AccessBase
from hazwatch.domain.errors import Invalid, NotFound
from hazwatch.services import hygiene_policy


class EvaluationAccess(AccessBase):
    # -- evaluation: hazard grades, risk points, colours, hidden dangers ---------------------------------------------
    def _org_by_code(self, code: str) -> int:
        node = self.services.orgs.current().by_code(code)
        return self._inside(node.id if node is not None else None, f"org {code!r}")

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
        return self._inside(self.services.hidden_dangers.org_of(hd_id), f"hidden danger {hd_id}")

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
