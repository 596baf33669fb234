"""Parameters in, a catalog document out: the only place a pack's templates are expanded, so a dry
run, an apply and a check all see exactly the same items."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from hazwatch.catalog.errors import CatalogError
from hazwatch.catalog.io import parse_document
from hazwatch.catalog.schema import CatalogDoc
from hazwatch.packs.manifest import SECTIONS, DetectorDoc, Manifest, PackError, RiskPointDoc

_ALONE = re.compile(r"^\{([a-z_][a-z0-9_]*)\}$")
_TYPES = {"string": (str,), "number": (int, float), "integer": (int,), "boolean": (bool,), "list": (list,)}


@dataclass
class Rendered:
    doc: CatalogDoc
    clauses: dict[str, str] = field(default_factory=dict)  # sensor tag -> the standard clause of its limits
    risk_points: list[RiskPointDoc] = field(default_factory=list)
    detectors: list[DetectorDoc] = field(default_factory=list)


def resolve(manifest: Manifest, given: dict[str, Any]) -> dict[str, Any]:
    """The parameters with defaults filled in, each checked against its declared type."""
    problems: list[str] = []
    declared = {p.name: p for p in manifest.parameters}
    for name in given:
        if name not in declared:
            problems.append(f"parameter {name!r}: the pack has no such parameter (it has: "
                            f"{', '.join(declared) or 'none'})")
    out: dict[str, Any] = {}
    for p in manifest.parameters:
        if p.name in given:
            value = given[p.name]
        elif p.default is not None:
            value = p.default
        else:
            problems.append(f"parameter {p.name!r}: required ({p.description})")
            continue
        ok = isinstance(value, _TYPES[p.type]) and not (p.type in ("number", "integer") and isinstance(value, bool))
        if not ok:
            problems.append(f"parameter {p.name!r}: expected {p.type}, got {type(value).__name__} {value!r}")
        elif p.type == "list" and len(value) < p.min_items:
            problems.append(f"parameter {p.name!r}: at least {p.min_items} element(s), got {len(value)}")
        out[p.name] = value
    if problems:
        raise PackError([f"{manifest.name}: {m}" for m in problems])
    return out


class _Fields(string.Formatter):
    """Placeholders name values and index them (`{item[volume]}`); attribute access, which
    could walk from a value into Python's objects, is refused."""

    def get_field(self, field_name, args, kwargs):
        if "." in field_name:
            raise ValueError(f"{{{field_name}}}: attribute access is not allowed; use {{name[key]}}")
        return super().get_field(field_name, args, kwargs)


_FORMAT = _Fields()


def _fill(value: Any, names: dict[str, Any], where: str) -> Any:
    if isinstance(value, str):
        alone = _ALONE.match(value)
        if alone and alone.group(1) in names:
            return names[alone.group(1)]
        try:
            return _FORMAT.vformat(value, (), names)
        except KeyError as e:
            raise PackError([f"{where}: unknown placeholder {{{e.args[0]}}} in {value!r}"]) from None
        except (ValueError, IndexError, AttributeError, TypeError) as e:
            raise PackError([f"{where}: cannot fill {value!r}: {e}"]) from None
    if isinstance(value, list):
        return [_fill(v, names, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _fill(v, names, f"{where}.{k}") for k, v in value.items()}
    return value


def render(manifest: Manifest, org: str, params: dict[str, Any]) -> Rendered:
    """Expand every template for enterprise `org`; a refused result names the pack's template."""
    values = resolve(manifest, params)
    base = {**values, "org": org}
    data: dict[str, list[dict]] = {}
    origin: dict[tuple[str, int], str] = {}  # (section, rendered index) -> template path, for errors
    clauses: dict[str, str] = {}
    problems: list[str] = []
    for section in (*SECTIONS, "risk_points", "detectors"):
        items: list[dict] = []
        for t, template in enumerate(getattr(manifest, section)):
            where = f"{manifest.name}: {section}[{t}]"
            loop = template.get("for_each")
            if loop is None:
                rows: list[tuple[int, Any]] = [(1, None)]
            elif loop not in values or not isinstance(values[loop], list):
                problems.append(f"{where}.for_each: {loop!r} is not a list parameter of the pack")
                continue
            else:
                rows = list(enumerate(values[loop], 1))
            body = {k: v for k, v in template.items() if k not in ("for_each", "clause")}
            for i, element in rows:
                names = dict(base)
                if loop is not None:  # an element lends its keys, but never org, item or i
                    if isinstance(element, dict):
                        names.update({k: v for k, v in element.items() if k not in ("org", "item", "i")})
                    names.update(i=i, item=element)
                here = where + (f" (element {i})" if loop is not None else "")
                try:
                    item = _fill(body, names, here)
                    clause = _fill(template.get("clause", ""), names, here)
                except PackError as e:
                    problems += e.problems
                    continue
                origin[(section, len(items))] = here
                if section == "sensors" and clause and isinstance(item.get("tag"), str):
                    clauses[item["tag"]] = clause
                items.append(item)
        data[section] = items
    points = _own(RiskPointDoc, "risk_points", data.pop("risk_points"), origin, problems)
    detectors = _own(DetectorDoc, "detectors", data.pop("detectors"), origin, problems)
    codes = [d.code for d in detectors]
    problems += [f"{manifest.name}: detectors: unit {c!r} given twice" for c in sorted({c for c in codes
                                                                                        if codes.count(c) > 1})]
    if problems:
        raise PackError(problems)
    try:
        doc = parse_document(data, manifest.name)
    except CatalogError as e:
        raise PackError([_locate(p, manifest.name, origin) for p in e.problems]) from None
    return Rendered(doc, clauses, points, detectors)


def _own(model, section: str, items: list[dict], origin: dict[tuple[str, int], str], problems: list[str]) -> list:
    """The pack's own sections, which are not catalog items: validated here, errors at their template."""
    out = []
    for n, item in enumerate(items):
        try:
            out.append(model.model_validate(item))
        except ValidationError as e:
            problems += [f"{origin[(section, n)]}{''.join(f'.{x}' for x in err['loc'])}: "
                         f"{err['msg'].removeprefix('Value error, ')}" for err in e.errors()]
    return out


def _locate(problem: str, name: str, origin: dict[tuple[str, int], str]) -> str:
    """`tank-farm: sensors[7].h: ...` -> the template that item came from."""
    m = re.match(rf"^{re.escape(name)}: (\w+)\[(\d+)\](.*)$", problem, re.DOTALL)
    if m and (m.group(1), int(m.group(2))) in origin:
        return f"{origin[(m.group(1), int(m.group(2)))]}{m.group(3)}"
    return problem
