"""What the incident desk needs of the catalog, read once per catalog revision: the org tree,
locations, plans and triggers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hazwatch.catalog.endpoints import EndpointBook
from hazwatch.catalog.models import CatalogMeta, Device, HazardSource, IncidentTrigger, Org, Plan
from hazwatch.catalog.schema import PlanDoc, TriggerDoc


@dataclass(frozen=True)
class DisposalCatalog:
    revision: int
    orgs: dict[int, tuple[str, str, int | None]]  # id -> (code, name, parent id)
    hazards: dict[int, tuple[str, str]]  # id -> (code, name)
    hazard_orgs: dict[int, int]  # hazard source id -> its enterprise
    device_orgs: dict[str, int]  # device code -> its enterprise
    plans: list[tuple[int, PlanDoc]]  # (org id, plan)
    triggers: list[tuple[int, TriggerDoc]]  # (org id, trigger)
    endpoints: EndpointBook  # registered field endpoints -> org id: where interlocks may write

    @classmethod
    def load(cls, engine: Engine) -> DisposalCatalog:
        with Session(engine) as s:
            meta = s.get(CatalogMeta, 1)
            devices = list(s.scalars(select(Device)))
            hazards = list(s.scalars(select(HazardSource)))
            return cls(
                revision=meta.revision if meta else 0,
                orgs={o.id: (o.code, o.name, o.parent_id) for o in s.scalars(select(Org))},
                hazards={h.id: (h.code, h.name) for h in hazards},
                hazard_orgs={h.id: h.org_id for h in hazards},
                device_orgs={d.code: d.org_id for d in devices},
                plans=[(p.org_id, PlanDoc.model_validate(p.doc)) for p in s.scalars(select(Plan).order_by(Plan.id))],
                triggers=[(t.org_id, TriggerDoc.model_validate(t.doc))
                          for t in s.scalars(select(IncidentTrigger).order_by(IncidentTrigger.id))],
                endpoints=EndpointBook.load(s),
            )

    def up(self, org_id: int) -> list[int]:
        """The org, then each org above it, nearest first."""
        out, cur = [], org_id
        while cur is not None and cur in self.orgs and cur not in out:
            out.append(cur)
            cur = self.orgs[cur][2]
        return out

    def above(self, org_id: int) -> frozenset[int]:
        """The org and every org above it."""
        return frozenset(self.up(org_id))

    def location_in(self, location: str, org_id: int) -> tuple[int | None, frozenset[str]] | None:
        """The hazard source (id) or device (code) named `location`, only where it lies in `org_id` or
        below it; None where it does not, so a foreign code reads exactly as one that does not exist."""
        hs = next((i for i, (code, _) in self.hazards.items() if code == location), None)
        if hs is not None and org_id in self.above(self.hazard_orgs[hs]):
            return hs, frozenset()
        dev_org = self.device_orgs.get(location)
        if dev_org is not None and org_id in self.above(dev_org):
            return None, frozenset({location})
        return None

    def may_write(self, target: str, org_id: int) -> bool:
        """Whether an incident of `org_id` may write `target`: it lies on a registered endpoint of
        that org or of an enterprise below it. Decided here, before any connection."""
        owner = self.endpoints.owner(target)
        return isinstance(owner, int) and org_id in self.above(owner)

    def org_code(self, org_id: int | None) -> str | None:
        return self.orgs[org_id][0] if org_id in self.orgs else None

    def org_by_code(self, code: str) -> int | None:
        return next((i for i, o in self.orgs.items() if o[0] == code), None)
