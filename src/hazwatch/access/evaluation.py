"""Hazard grades, risk points, colours, KPIs, reports, the summary and hidden dangers: the read
models (`risk/views.py`, `risk/feed.py`, `risk/periodic.py`) get their scoped inputs from here.
A part of `Access` (a mixin)."""

from __future__ import annotations

from functools import cached_property

from hazwatch.access.base import AccessBase
from hazwatch.risk import views
from hazwatch.risk.feed import summary
from hazwatch.risk.overview import grade_sources
from hazwatch.risk.periodic import CallerReports
from hazwatch.risk.registers import CallerRegisters
from hazwatch.services import hygiene_policy


class EvaluationAccess(AccessBase):
    @cached_property
    def registers(self) -> CallerRegisters:
        """Risk points and hidden dangers of the caller's scope."""
        s = self.services
        return CallerRegisters(s.risk_points, s.hidden_dangers, self.scope.org_ids, self._org_by_code, self._inside,
                               s.orgs.code_of, s.catalog.hazard_source_id, self.principal.name, self._audit_to)

    def hidden_dangers(self, state: str | None) -> list[dict]:
        return self.registers.hidden_dangers(state)

    def major_hazards(self) -> list[dict]:
        return [views.without_org(s) for s in grade_sources(self.services.engine, self.scope.org_ids)]

    def risk_overview(self) -> list[dict]:
        s, tree = self.services, self.services.orgs.current()
        ents = {n.id: (n.code, n.name) for n in tree.nodes.values()
                if n.kind == "enterprise" and self.scope.allows(n.id)}
        ids = frozenset(ents)
        alarms = [(org, p) for p in s.alarm_queries.list("active") if (org := self._alarm_org(p)) in ents]
        incidents = [(org.id, i) for i in s.incidents.list(ids, "open") if (org := tree.by_code(i["enterprise"]))]
        return views.overview(ents, alarms, incidents, grade_sources(s.engine, ids), s.risk_points.list(ids),
                              s.hidden_dangers.overdue_by_org(ids), s.colour_rule)

    def kpis(self, enterprise: str | None, start: int, end: int, bucket_us: int | None = None) -> dict:
        area = frozenset({self._org_by_code(enterprise)}) if enterprise is not None else self.scope.org_ids
        s = self.services
        alarms = views.kpi_alarms(s.alarm_queries.list("all"), s.index, area)
        return views.kpis(enterprise, start, end, alarms, s.alarm_queries.events_between(list(alarms), start, end),
                          s.incidents.response_times(area, start, end), hygiene_policy(s.settings), bucket_us)

    def pack_report(self, enterprise: str, start: int, end: int) -> list[dict]:
        """The report sections the enterprise's packs add (`risk.views.pack_sections`)."""
        q = self.services.alarm_queries
        return views.pack_sections(self.packs.installed(enterprise)[1], lambda: q.list("all"), self.services.index,
                                   lambda ids: q.events_between(ids, start, end, ("raised",)))

    @cached_property
    def reports(self) -> CallerReports:
        return self.services.reports.bound(self.scope.org_ids, self.principal.name)

    def request_report(self, scope: str, period: str, lang: str) -> dict:
        return self.reports.request(self._org_by_code(scope), period, lang)

    def summary(self, org: str | None) -> dict:
        if org is not None:
            return self.services.feed.for_org(self._org_by_code(org))
        root = self.services.orgs.code_of(self.principal.org_id) or "installation"
        return summary(self, root, self.services.pipeline.clock.now_us())
