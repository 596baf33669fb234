"""Every field of every catalog document kind that names another object, walked from the published
JSON Schema: sent by an enterprise administrator of EA1 with a sibling enterprise's code (EA2, same
park), a sibling park's code (EB1, park PB) and a code that does not exist, over HTTP to a real
server. The three answers must be the same once the code itself is blanked out: a refusal that
differed would tell the attacker that the foreign object exists. A field added to the schema
without a case here fails the walk."""

from __future__ import annotations

import json

import pytest

from hazwatch.catalog.schema import CatalogDoc
from tests.security.server import MODEL

# Where a field names another object, and what kind of object it names.
REFERENCES = {
    "orgs.parent": "org", "sites.org": "org", "hazard_sources.org": "org", "hazard_sources.site": "site",
    "devices.org": "org", "devices.site": "site", "devices.hazard_source": "hazard_source",
    "endpoints.org": "org", "endpoints.address": "endpoint",
    "sensors.device": "device", "sensors.hazard_source": "hazard_source", "sensors.suppress_when": "sensor_expr",
    "sensors.source": "node",
    "units.org": "org", "units.hazard_source": "hazard_source", "units.model": "columns",
    "rules.org": "org", "rules.when": "sensor_expr",
    "plans.org": "org", "plans.locations": "location", "plans.steps.interlock.target": "node",
    "incident_triggers.org": "org", "incident_triggers.rule": "rule", "incident_triggers.unit": "unit",
    "incident_triggers.locations": "location",
}
# Fields that name nothing else: the item's own code or tag, text, numbers, enumerations.
PLAIN = {
    "version", "orgs.code", "orgs.name", "orgs.kind", "sites.code", "sites.name", "sites.longitude", "sites.latitude",
    "hazard_sources.code", "hazard_sources.name", "hazard_sources.kind", "hazard_sources.exposed_people",
    "hazard_sources.substances.name", "hazard_sources.substances.cas", "hazard_sources.substances.category",
    "hazard_sources.substances.quantity_t", "devices.code", "devices.name", "devices.kind", "endpoints.code",
    "endpoints.name", "units.code", "units.name", "units.priority", "units.clear_rows", "rules.code", "rules.name",
    "rules.priority", "plans.code", "plans.name", "plans.layer", "plans.hazard_types", "plans.tiers.name",
    "plans.tiers.role", "plans.tiers.minutes", "plans.steps.title", "plans.steps.role", "plans.steps.due_min",
    "plans.steps.interlock.value", "plans.steps.interlock.second_person", "incident_triggers.code",
    "incident_triggers.name", "incident_triggers.conditions", "incident_triggers.min_priority",
    "incident_triggers.major_hazard_only", "incident_triggers.sensor_kinds", "incident_triggers.hold_s",
    "incident_triggers.hazard_type",
} | {f"sensors.{f}" for f in (
    "tag", "name", "kind", "unit", "range_low", "range_high", "ll", "l", "h", "hh", "priority_ll", "priority_l",
    "priority_h", "priority_hh", "deadband", "on_delay_s", "off_delay_s", "longitude", "latitude", "in_use",
    "interval_s", "stale_intervals", "flatline_s", "roc_limit", "roc_window_s", "roc_deadband", "trend_horizon_s",
    "trend_window_s")}

NONE = "X-NONE"


def codes(kind: str) -> tuple[str, str, str]:
    """(sibling enterprise's, sibling park's, nobody's) code of an object of `kind`."""
    prefix = {"org": "", "site": "S-", "hazard_source": "HS-", "device": "D-", "sensor_expr": "T-", "columns": "T-",
              "location": "HS-", "rule": "R-", "unit": "U-"}
    if kind == "org":
        return "EA2", "PB", NONE
    if kind == "node":
        return tuple(f"opc.tcp://dcs-{e}.example:4840#ns=2;s=XV1" for e in ("ea2", "eb1", "none"))  # type: ignore
    if kind == "endpoint":
        return tuple(f"opc.tcp://dcs-{e}.example:4840" for e in ("ea2", "eb1", "none"))  # type: ignore
    p = prefix[kind]
    return f"{p}EA2", f"{p}EB1", f"{p}NONE"


def item(path: str, value: str) -> dict:
    """A document from EA1 whose one field at `path` carries `value`; everything else its own."""
    section, _, fld = path.partition(".")
    base = {
        "orgs": {"code": "X-ORG", "name": "n", "kind": "enterprise", "parent": "PA"},
        "sites": {"code": "X-S", "name": "n", "org": "EA1"},
        "hazard_sources": {"code": "X-HS", "name": "n", "org": "EA1"},
        "devices": {"code": "X-D", "name": "n", "org": "EA1"},
        "endpoints": {"code": "X-EP", "name": "n", "org": "EA1", "address": "opc.tcp://dcs-x.example:4840"},
        "sensors": {"tag": "X-T", "name": "n", "kind": "level", "unit": "m", "device": "D-EA1", "range_low": 0,
                    "range_high": 10},
        "units": {"code": "X-U", "name": "n", "org": "EA1", "model": MODEL | {"columns": ["T-EA1"]}},
        "rules": {"code": "X-R", "name": "n", "org": "EA1", "when": "T-EA1 > 5"},
        "plans": {"code": "X-P", "name": "n", "layer": "general", "org": "EA1"},
        "incident_triggers": {"code": "X-TR", "name": "n", "org": "EA1"},
    }[section]
    doc = dict(base)
    if fld in ("when", "suppress_when"):
        doc[fld] = f"{value} > 5"
    elif fld == "model":
        doc["model"] = MODEL | {"columns": [value]}
    elif fld == "locations":
        doc.update({"locations": [value]} if section == "incident_triggers" else
                   {"layer": "onsite", "locations": [value]})
    elif fld == "steps.interlock.target":
        doc["steps"] = [{"title": "close", "due_min": 5, "interlock": {"target": value, "value": 0}}]
    else:
        doc[fld] = value
    return {section: [doc]}


def leaves(schema: dict, node: dict, prefix: str) -> set[str]:
    """Every leaf field under `node`, as a dotted path (arrays and nested objects walked through)."""
    if "$ref" in node:
        return leaves(schema, schema["$defs"][node["$ref"].split("/")[-1]], prefix)
    for key in ("anyOf", "allOf"):
        if key in node:
            return set().union(*(leaves(schema, n, prefix) for n in node[key] if n.get("type") != "null"))
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        return leaves(schema, node["items"], prefix)
    if "properties" in node and prefix.rpartition(".")[2] != "model":
        return set().union(*(leaves(schema, n, f"{prefix}.{k}".lstrip(".")) for k, n in node["properties"].items()))
    return {prefix}


def test_every_field_is_classified():
    """A new field must say here whether it names another object (and get its attack) or not."""
    schema = CatalogDoc.model_json_schema()
    fields = leaves(schema, schema, "")
    assert fields - REFERENCES.keys() - PLAIN == set(), "classify the new catalog fields in this module"
    assert (REFERENCES.keys() | PLAIN) - fields == set(), "a classified field left the schema"


def _blank(answer: dict, value: str) -> str:
    return json.dumps(answer).replace(value, "<CODE>")


@pytest.mark.parametrize("path", sorted(REFERENCES))
def test_a_foreign_code_reads_as_one_that_does_not_exist(server, path):
    with server.client("admin-EA1") as c:
        answers = []
        for value in codes(REFERENCES[path]):
            r = c.post("/catalog", json=item(path, value))
            answers.append((r.status_code, _blank(r.json(), value)))
        assert answers[0][0] == 422, answers[0]
        assert answers[0] == answers[1] == answers[2], answers
    # and nothing was created by any of them
    with server.client() as admin:
        doc = json.dumps(admin.get("/catalog").json())
        assert "X-" not in doc.replace("X-NONE", "")
