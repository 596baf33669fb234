"""Every request field and query parameter of the API that names an object, walked from the
OpenAPI document: sent by EA1's enterprise administrator with a sibling enterprise's code (EA2),
a sibling park's (PB or EB1) and one that does not exist, over HTTP to a real server. The answers
must be the same once the code is blanked out. A field added to the API without a case here fails
the walk. (Catalog documents are walked field by field in test_foreign_codes.py.)"""

from __future__ import annotations

import json

import pytest

from hazwatch.app import make_api
from tests.conftest import build_services, make_settings

ENTERPRISE = ("EA2", "EB1", "X-NONE")
ORG = ("EA2", "PB", "X-NONE")
HAZARD = ("HS-EA2", "HS-EB1", "HS-NONE")

# "METHOD path field" (body) or "METHOD path ?param" (query) -> (codes, request for one code)
REFERENCES = {
    "POST /api/v1/orgs parent": ("park_ids", lambda v: ("POST", "/orgs", {"json": {
        "code": "X-NEW", "name": "n", "kind": "enterprise", "parent": v}})),
    "POST /api/v1/users org": ("org_id", lambda v: ("POST", "/users", {"json": {
        "username": "x-new-user", "password": "a long password 1", "role": "operator", "org": v}})),
    "POST /api/v1/incidents enterprise": (ENTERPRISE, lambda v: ("POST", "/incidents", {"json": {
        "enterprise": v, "title": "t", "hazard_type": "other"}})),
    "POST /api/v1/incidents location": (("HS-EA2", "D2-EB1", "HS-NONE"), lambda v: ("POST", "/incidents", {"json": {
        "enterprise": "EA1", "title": "t", "hazard_type": "other", "location": v}})),
    "POST /api/v1/risk/points enterprise": (ENTERPRISE, lambda v: ("POST", "/risk/points", {"json": {
        "enterprise": v, "name": "n", "method": "lec", "l": 3, "e": 6, "c": 7}})),
    "POST /api/v1/risk/points hazard_source": (HAZARD, lambda v: ("POST", "/risk/points", {"json": {
        "enterprise": "EA1", "hazard_source": v, "name": "n", "method": "lec", "l": 3, "e": 6, "c": 7}})),
    "POST /api/v1/hidden-dangers enterprise": (ENTERPRISE, lambda v: ("POST", "/hidden-dangers", {"json": {
        "enterprise": v, "title": "t", "grade": "general", "found_by": "daily", "handling": "on_the_spot"}})),
    "POST /api/v1/hidden-dangers hazard_source": (HAZARD, lambda v: ("POST", "/hidden-dangers", {"json": {
        "enterprise": "EA1", "hazard_source": v, "title": "t", "grade": "general", "found_by": "daily",
        "handling": "on_the_spot"}})),
    "POST /api/v1/reports scope": (ORG, lambda v: ("POST", "/reports", {"json": {"scope": v, "period": "2026-11"}})),
    "POST /api/v1/packs/{name}/apply org": (ENTERPRISE, lambda v: ("POST", "/packs/gas-detection/apply", {"json": {
        "org": v, "params": {"area": "a", "toxic_detectors": [{"tag": "X1", "gas": "Ammonia", "l1": 20, "l2": 40,
                                                                "range": 100}]}, "dry_run": True}})),
    "POST /api/v1/packs/{name}/upgrade org": (ENTERPRISE, lambda v: ("POST", "/packs/gas-detection/upgrade", {
        "json": {"org": v, "params": {}, "dry_run": True}})),
    "POST /api/v1/packs/{name}/fit org": (ENTERPRISE, lambda v: ("POST", "/packs/deep-well-casting/fit", {
        "json": {"org": v, "dry_run": True}})),
    "POST /api/v1/packs/{name}/fit detectors": (("U-EA2", "U-EB1", "U-NONE"), lambda v: (
        "POST", "/packs/deep-well-casting/fit", {"json": {"org": "EA1", "detectors": [v], "dry_run": True}})),
    "GET /api/v1/sensors ?enterprise": (ENTERPRISE, lambda v: ("GET", "/sensors", {"params": {"enterprise": v}})),
    "GET /api/v1/kpis ?enterprise": (ENTERPRISE, lambda v: ("GET", "/kpis", {"params": {"enterprise": v}})),
    "GET /api/v1/summary ?org": (ORG, lambda v: ("GET", "/summary", {"params": {"org": v}})),
    "GET /api/v1/tiers/events ?park": (("PB", "PA", "X-NONE"), lambda v: ("GET", "/tiers/events",
                                                                           {"params": {"park": v}})),
    "GET /api/v1/packs/installs ?org": (ENTERPRISE, lambda v: ("GET", "/packs/installs", {"params": {"org": v}})),
    "GET /api/v1/audit ?actor": (("viewer-EA2", "admin-PA", "x-nobody"), lambda v: ("GET", "/audit",
                                                                                     {"params": {"actor": v}})),
}
# Fields that name nothing another tenant owns: credentials, text, numbers, enumerations, times, the
# caller's own settings, and codes the request creates.
PLAIN = {
    "POST /api/v1/auth/token grant_type", "POST /api/v1/auth/token username", "POST /api/v1/auth/token password",
    "POST /api/v1/auth/token refresh_token", "POST /api/v1/auth/revoke token", "POST /api/v1/auth/keys label",
    "POST /api/v1/auth/keys expires_days", "POST /api/v1/auth/keys password", "POST /api/v1/auth/password current",
    "POST /api/v1/auth/password new", "POST /api/v1/orgs name", "POST /api/v1/orgs kind", "POST /api/v1/orgs code",
    "POST /api/v1/users username", "POST /api/v1/users password", "POST /api/v1/users role",
    "GET /api/v1/sensors ?kind", "GET /api/v1/sensors/{tag}/series ?start", "GET /api/v1/sensors/{tag}/series ?end",
    "GET /api/v1/sensors/{tag}/series ?step", "GET /api/v1/sensors/{tag}/series ?limit", "GET /api/v1/alarms ?state",
    "GET /api/v1/alarms ?grouped", "GET /api/v1/floods ?active", "POST /api/v1/alarms/{alarm_id}/ack comment",
    "POST /api/v1/alarms/{alarm_id}/shelve minutes", "POST /api/v1/alarms/{alarm_id}/shelve reason",
    "POST /api/v1/alarms/{alarm_id}/suppress comment", "POST /api/v1/alarms/{alarm_id}/unsuppress comment",
    "POST /api/v1/alarms/{alarm_id}/out-of-service comment", "POST /api/v1/alarms/{alarm_id}/in-service comment",
    "POST /api/v1/alarms/{alarm_id}/comments text", "GET /api/v1/incidents ?state", "POST /api/v1/incidents title",
    "POST /api/v1/incidents hazard_type", "POST /api/v1/incidents priority",
    "POST /api/v1/incidents/{incident_id}/transition to", "POST /api/v1/incidents/{incident_id}/transition comment",
    "POST /api/v1/incidents/{incident_id}/ack comment", "POST /api/v1/incidents/{incident_id}/comments text",
    "POST /api/v1/incidents/{incident_id}/tasks/{task_id}/ack comment",
    "POST /api/v1/incidents/{incident_id}/tasks/{task_id}/done comment",
    "POST /api/v1/incidents/{incident_id}/reports level", "GET /api/v1/notifications ?unread",
    "PUT /api/v1/me/notification-preferences channels", "PUT /api/v1/me/notification-preferences email",
    "PUT /api/v1/me/notification-preferences webhook_url", "PUT /api/v1/me/notification-preferences hours",
    "PUT /api/v1/me/notification-preferences min_priority", "POST /api/v1/risk/major-hazard/evaluate substances",
    "POST /api/v1/risk/major-hazard/evaluate exposed_people", "POST /api/v1/risk/points location",
    "POST /api/v1/risk/points name", "POST /api/v1/risk/points method", "POST /api/v1/risk/points l",
    "POST /api/v1/risk/points e", "POST /api/v1/risk/points c", "POST /api/v1/risk/points s",
    "POST /api/v1/risk/points measures", "GET /api/v1/hidden-dangers ?state", "GET /api/v1/kpis ?start",
    "GET /api/v1/kpis ?end", "POST /api/v1/reports period", "POST /api/v1/reports lang", "GET /api/v1/audit ?action",
    "GET /api/v1/audit ?object_type", "GET /api/v1/audit ?since", "GET /api/v1/audit ?until",
    "GET /api/v1/audit ?limit", "GET /api/v1/tiers/events ?kind", "GET /api/v1/tiers/events ?limit",
    "POST /api/v1/packs/{name}/apply dry_run", "POST /api/v1/packs/{name}/upgrade dry_run",
    "POST /api/v1/packs/{name}/fit since", "POST /api/v1/packs/{name}/fit until",
    "POST /api/v1/packs/{name}/fit dry_run",
    # a pack's parameters name what the pack creates in the install's own enterprise; where one names
    # a place outside it (a gate), test_no_connection.py attacks it
    "POST /api/v1/packs/{name}/apply params", "POST /api/v1/packs/{name}/upgrade params",
} | {f"{m} /api/v1/hidden-dangers{p} {f}" for m, p in (("POST", ""), ("POST", "/{hd_id}/transition"))
     for f in ("responsible", "deadline", "measures", "funding", "contingency_plan")} | {
    "POST /api/v1/hidden-dangers title", "POST /api/v1/hidden-dangers description", "POST /api/v1/hidden-dangers grade",
    "POST /api/v1/hidden-dangers found_by", "POST /api/v1/hidden-dangers handling",
    "POST /api/v1/hidden-dangers/{hd_id}/transition to", "POST /api/v1/hidden-dangers/{hd_id}/transition comment"}


def api_fields() -> set[str]:
    """Every body field and query parameter of the API, from the OpenAPI document it serves."""
    doc = make_api(build_services(make_settings(_tmp()), None)).openapi()
    schemas, out = doc["components"]["schemas"], set()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                if p["in"] == "query":
                    out.add(f"{method.upper()} {path} ?{p['name']}")
            for content in op.get("requestBody", {}).get("content", {}).values():
                ref = content.get("schema", {}).get("$ref")
                if ref and not ref.endswith("/CatalogDoc"):
                    out |= {f"{method.upper()} {path} {f}" for f in schemas[ref.split("/")[-1]].get("properties", {})}
    return out


def _tmp():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="hz-walk-"))


def test_every_api_field_is_classified():
    fields = api_fields()
    assert fields - REFERENCES.keys() - PLAIN == set(), "classify the new API fields in this module"
    assert (REFERENCES.keys() | PLAIN) - fields == set(), "a classified field left the API"


def _values(server, codes) -> tuple:
    tree = server.services.orgs.current()
    if codes == "org_id":
        return tree.by_code("EA2").id, tree.by_code("PB").id, 2_000_000_000
    if codes == "park_ids":  # asked by PA's administrator (enterprise administrators make no orgs)
        return tree.by_code("PB").id, tree.by_code("EB1").id, 2_000_000_000
    return codes


@pytest.mark.parametrize("field", sorted(REFERENCES))
def test_a_foreign_code_in_a_command_reads_as_one_that_does_not_exist(server, field):
    codes, request = REFERENCES[field]
    answers = []
    with server.client("admin-PA" if codes == "park_ids" else "admin-EA1") as c:
        for value in _values(server, codes):
            method, path, kw = request(value)
            r = c.request(method, path, **kw)
            body = r.text.replace(json.dumps(value), "<CODE>").replace(str(value), "<CODE>")
            answers.append((r.status_code, body))
    assert answers[0] == answers[1] == answers[2], answers
    assert answers[0][0] in (200, 404, 422), answers[0]  # an answer about the code, not about the caller's role
