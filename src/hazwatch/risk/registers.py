"""Risk points and hidden dangers as one caller may use them: the scoping facade binds the caller's
scope (which orgs it may see, how an enterprise code resolves inside it, how an object outside it is
refused), its name and its audit hooks, and each row is shown with its enterprise's code instead of
the internal org id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hazwatch.risk.hidden import HiddenDangerRegister
from hazwatch.risk.points import RiskPoints
from hazwatch.risk.views import without_org


@dataclass(frozen=True)
class CallerRegisters:
    risk_points: RiskPoints
    hidden: HiddenDangerRegister
    allowed: frozenset[int] | None
    org_id: Callable[[str], int]  # an enterprise code in the scope, or NotFound
    inside: Callable[[int | None, str], int]  # the org of a looked-up object in the scope, or NotFound
    org_code: Callable[[int], str | None]
    hazard_source: Callable[[str | None, int], int | None]  # the enterprise's hazard source by code
    actor: str
    audit: Callable[[int, str], Callable]  # (org id, object type) -> the audit hook

    def _named(self, item: dict) -> dict:
        return without_org(item) | {"enterprise": self.org_code(item["org_id"])}

    def points(self) -> list[dict]:
        return [self._named(p) for p in self.risk_points.list(self.allowed)]

    def assess(self, enterprise: str, hazard_source: str | None, location: str | None, name: str, method: str,
               factors: dict, measures: str | None) -> dict:
        org = self.org_id(enterprise)
        return self._named(self.risk_points.assess(org, self.hazard_source(hazard_source, org), location, name, method,
                                               factors, measures, self.actor, self.audit(org, "risk_point")))

    def _hd_org(self, hd_id: int) -> int:
        return self.inside(self.hidden.org_of(hd_id), f"hidden danger {hd_id}")

    def hidden_dangers(self, state: str | None) -> list[dict]:
        return [self._named(h) for h in self.hidden.list(self.allowed, state)]

    def hidden_danger(self, hd_id: int) -> dict:
        self._hd_org(hd_id)
        return self._named(self.hidden.detail(hd_id))

    def report(self, enterprise: str, hazard_source: str | None, fields: dict) -> dict:
        org = self.org_id(enterprise)
        return self.hidden_danger(self.hidden.report(org, self.hazard_source(hazard_source, org), fields, self.actor,
                                                     self.audit(org, "hidden_danger")))

    def move(self, hd_id: int, to: str, comment: str | None, fields: dict) -> dict:
        self.hidden.transition(hd_id, to, self.actor, comment, fields, self.audit(self._hd_org(hd_id), "hidden_danger"))
        return self.hidden_danger(hd_id)
