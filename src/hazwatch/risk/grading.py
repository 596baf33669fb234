"""Major-hazard identification and grading, GB 18218-2018 (SAFETY.md §2):

    S = Σ q/Q ≥ 1 → major hazard;   R = α · Σ β·q/Q → level 1 (R ≥ 100) … 4 (R < 10)

with α from the people outside the plant within 500 m. Every term is returned, so a grading can be
checked by hand, as an inspector would."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from hazwatch.risk.substances import Substance, find

LEVEL_FLOORS = ((1, 100.0), (2, 50.0), (3, 10.0))  # level, lowest R of the level; below the last: level 4


def alpha(exposed_people: int) -> float:
    if exposed_people >= 100:
        return 2.0
    if exposed_people >= 50:
        return 1.5
    if exposed_people >= 30:
        return 1.2
    if exposed_people >= 1:
        return 1.0
    return 0.5


def level(r: float) -> int:
    return next((lv for lv, floor in LEVEL_FLOORS if r >= floor), 4)


@dataclass(frozen=True)
class Term:
    substance: str
    cas: str | None
    category: str | None
    quantity_t: float
    critical_t: float
    beta: float
    ratio: float  # q/Q
    weighted: float  # β·q/Q
    source: str


@dataclass(frozen=True)
class Grading:
    S: float
    R: float
    alpha: float
    exposed_people: int
    is_major_hazard: bool
    level: int | None  # 1 (highest) … 4; None when it is not a major hazard
    terms: list[Term]

    def as_dict(self) -> dict:
        return asdict(self)


def grade(items: list[tuple[Substance, float]], exposed_people: int) -> Grading:
    terms = [Term(s.name, s.cas, s.category, q, s.q_t, s.beta, q / s.q_t, s.beta * q / s.q_t, s.source)
             for s, q in items]
    s_sum = sum(t.ratio for t in terms)
    a = alpha(exposed_people)
    r = a * sum(t.weighted for t in terms)
    major = s_sum >= 1.0
    return Grading(round(s_sum, 6), round(r, 6), a, exposed_people, major, level(r) if major else None, terms)


def evaluate(substances: list[dict], exposed_people: int) -> Grading:
    """Grade a list of {"name" or "cas" [, "category"], "quantity_t"}; unknown substances without a
    category are refused (Invalid) with the reason."""
    return grade([(find(x.get("name"), x.get("cas"), x.get("category")), float(x["quantity_t"]))
                  for x in substances], exposed_people)
