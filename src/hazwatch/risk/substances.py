"""GB 18218-2018 substance data, shipped with the package (risk/data/): the named substances with
their critical quantity Q and correction factor β, and the hazard-category rows that give Q and β
for substances the table does not name. Each named row says where its numbers come from; rows
marked "verify" are to be checked against the standard's text before a grading is relied upon."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

from hazwatch.domain.errors import Invalid


@dataclass(frozen=True)
class Substance:
    key: str
    name: str
    name_zh: str
    cas: str | None
    category: str | None  # the hazard category (J1..J5, W1.1..W11), None for a named toxic gas
    q_t: float  # critical quantity, tonnes
    beta: float
    source: str


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("hazwatch.risk").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def named() -> tuple[Substance, ...]:
    return tuple(Substance(r["key"], r["name"], r["name_zh"], r["cas"] or None, r["category"] or None,
                           float(r["q_t"]), float(r["beta"]), r["source"]) for r in _rows("gb18218.csv"))


@cache
def categories() -> dict[str, Substance]:
    return {r["category"]: Substance(r["category"], r["name"], r["name_zh"], None, r["category"], float(r["q_t"]),
                                     float(r["beta"]), "GB 18218-2018 table 2")
            for r in _rows("gb18218_categories.csv")}


@cache
def _index() -> dict[str, Substance]:
    out: dict[str, Substance] = {}
    for row in _rows("gb18218.csv"):
        s = next(x for x in named() if x.key == row["key"])
        for alias in [row["key"], row["name"], row["name_zh"], *filter(None, row["aliases"].split("|"))]:
            out.setdefault(alias.strip().casefold(), s)
    return out


def find(name: str | None = None, cas: str | None = None, category: str | None = None) -> Substance:
    """The named substance by CAS number or name (English, Chinese or a common alias); failing that,
    the row of its hazard category. Refuses, naming what was given, when neither applies."""
    if cas:
        hit = next((s for s in named() if s.cas == cas.strip()), None)
        if hit is not None:
            return hit
    if name:
        hit = _index().get(name.strip().casefold())
        if hit is not None:
            return hit
    if category:
        row = categories().get(category.strip().upper())
        if row is None:
            raise Invalid(f"unknown hazard category {category!r}; use one of {', '.join(categories())}")
        label = name or cas or category
        return Substance(row.key, label, row.name_zh, cas, row.category, row.q_t, row.beta, row.source)
    given = " / ".join(x for x in (name and f"name {name!r}", cas and f"CAS {cas!r}") if x) or "nothing"
    raise Invalid(f"substance not in GB 18218-2018 table 1 ({given}) and no hazard category given: add "
                  f"`category` (one of {', '.join(categories())}) so its critical quantity is known")
