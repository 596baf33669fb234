"""Risk points: LEC or matrix assessments attached to a hazard source or a named location. A new
assessment of the same point (same org and name) replaces the old one; the audit log keeps both."""

from __future__ import annotations

from sqlalchemy import Engine, insert, select, update

from hazwatch.domain import Clock
from hazwatch.domain.clock import iso
from hazwatch.domain.errors import Invalid
from hazwatch.risk.assess import Bands, lec, matrix
from hazwatch.risk.models import RiskPoint

_P = RiskPoint.__table__


class RiskPoints:
    def __init__(self, engine: Engine, clock: Clock, bands: Bands | None = None) -> None:
        self.engine, self.clock, self.bands = engine, clock, bands or Bands()

    def assess(self, org_id: int, hazard_source_id: int | None, location: str | None, name: str, method: str,
               factors: dict, measures: str | None, actor: str, audit=None) -> dict:
        if method == "lec":
            a = lec(factors.get("l"), factors.get("e"), factors.get("c"), self.bands)
            values = {"l": factors["l"], "e": factors["e"], "c": factors["c"], "s": None}
        elif method == "matrix":
            a = matrix(factors.get("l"), factors.get("s"), self.bands)
            values = {"l": factors["l"], "e": None, "c": None, "s": factors["s"]}
        else:
            raise Invalid(f"method must be lec or matrix, not {method!r}")
        row = {"org_id": org_id, "hazard_source_id": hazard_source_id, "location": location, "name": name,
               "method": method, **values, "value": a.value, "colour": a.colour, "explanation": a.explanation,
               "measures": measures, "assessed_by": actor, "assessed_at": self.clock.now_us()}
        with self.engine.begin() as conn:
            old = conn.scalar(select(_P.c.id).where(_P.c.org_id == org_id, _P.c.name == name))
            if old is None:
                pid = conn.execute(insert(_P).values(**row).returning(_P.c.id)).scalar_one()
            else:
                conn.execute(update(_P).where(_P.c.id == old).values(**row))
                pid = old
            if audit is not None:
                audit(conn, "risk.assess", pid, {"name": name, "method": method, "value": a.value, "colour": a.colour})
            return self._public(conn.execute(select(_P).where(_P.c.id == pid)).mappings().one())

    def list(self, org_ids: frozenset[int] | None) -> list[dict]:
        q = select(_P).order_by(_P.c.id)
        if org_ids is not None:
            q = q.where(_P.c.org_id.in_(org_ids))
        with self.engine.connect() as conn:
            return [self._public(r) for r in conn.execute(q).mappings()]

    @staticmethod
    def _public(r) -> dict:
        return {"id": r["id"], "org_id": r["org_id"], "hazard_source_id": r["hazard_source_id"],
                "location": r["location"], "name": r["name"], "method": r["method"], "l": r["l"], "e": r["e"],
                "c": r["c"], "s": r["s"], "value": r["value"], "colour": r["colour"],
                "explanation": r["explanation"], "measures": r["measures"], "assessed_by": r["assessed_by"],
                "assessed_at": iso(r["assessed_at"])}
