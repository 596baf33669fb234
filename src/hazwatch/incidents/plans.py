"""Which emergency plans an incident takes, and what they make of it: tasks and the escalation
ladder. Pure functions over catalog documents, so the choice can be tested without a database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hazwatch.catalog.schema import PlanDoc, StepDoc, TierDoc

# The ladder an enterprise gets when no plan names one (SAFETY.md §6: duty operator, shift supervisor,
# the enterprise's safety manager, then the park and the regulator).
DEFAULT_TIERS: tuple[TierDoc, ...] = (
    TierDoc(name="duty operator", role="operator", minutes=5),
    TierDoc(name="shift supervisor", role="supervisor", minutes=10),
    TierDoc(name="safety manager", role="enterprise_admin", minutes=15),
    TierDoc(name="park", role="park_admin", minutes=30),
    TierDoc(name="regulator", role="regulator", minutes=60),
)

# What an alarm on a sensor of this kind most likely means, when the trigger does not say.
KIND_HAZARD = {"toxic_gas": "toxic_release", "combustible_gas": "toxic_release", "oxygen": "toxic_release",
               "concentration": "toxic_release", "level": "overfill", "temperature": "runaway_reaction",
               "pressure": "runaway_reaction"}

_LAYER_ORDER = {"onsite": 0, "specific": 1, "general": 2}


@dataclass(frozen=True)
class Where:
    """Where an incident happens: its org and the orgs above it, and its location codes."""

    orgs: frozenset[int]  # the incident's org and every org above it
    locations: frozenset[str]  # codes of its hazard source and device


def select(plans: Iterable[tuple[int, PlanDoc]], hazard_type: str, where: Where) -> list[PlanDoc]:
    """The plans that apply: the general plans of the incident's org (or an org above it), the
    specific plans for its hazard type (those naming locations only there) and the on-site
    procedures for its location, most specific first. `plans` pairs each plan with the id of its org."""
    chosen = []
    for org_id, plan in plans:
        if org_id not in where.orgs:
            continue
        here = where.locations.intersection(plan.locations)
        if (plan.layer == "general"
                or (plan.layer == "specific" and hazard_type in plan.hazard_types and (here or not plan.locations))
                or (plan.layer == "onsite" and here)):
            chosen.append(plan)
    chosen.sort(key=lambda p: (_LAYER_ORDER[p.layer], p.code))
    return chosen


def ladder(plans: list[PlanDoc]) -> list[TierDoc]:
    """The most specific plan that names tiers sets the ladder; none does: the default one."""
    for plan in plans:
        if plan.tiers:
            return list(plan.tiers)
    return list(DEFAULT_TIERS)


def steps(plans: list[PlanDoc]) -> list[tuple[str, StepDoc]]:
    """Every step of the chosen plans, with its plan's code: on-site first, then specific, then general."""
    return [(plan.code, step) for plan in plans for step in plan.steps]
