"""Packs over HTTP: the same apply and upgrade as the command line, their changes in the audit
log, the catalog reloaded so readings for the new sensors are taken at once, and refusals as 422
with the problems listed. Who may do what, in which scope, is walked in tests/auth/test_scope_walk.py."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from hazwatch.app import make_api
from tests.conftest import TOKEN, build_services, make_settings
from tests.packs.test_packs import EMPTY

API = "/api/v1"


def test_apply_and_upgrade_over_http(tmp_path):
    services = build_services(make_settings(tmp_path), None)
    services.catalog.apply(EMPTY)
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        r = c.post(f"{API}/packs/gas-detection/apply", json={"org": "E1", "params": {"area": "Pump room"}})
        assert r.status_code == 200, r.text
        assert r.json()["created"]["sensors"] == 7 and r.json()["version"] == "1.0.0"
        # the new sensors take readings at once, and their limits are live
        now = time.time()  # below 19.5 %VOL for three seconds: past the pack's 2 s on-delay
        r = c.post(f"{API}/telemetry", json={"sensor": ["OT01", "OT01"], "ts": [now - 3, now], "value": [18.0, 18.1]})
        assert r.json() == {"accepted": 2, "rejected": []}
        alarms = c.get(f"{API}/alarms").json()["items"]
        assert [(a["sensor"], a["condition"], a["priority"]) for a in alarms] == [("OT01", "L", "urgent")]
        # every item created is in the audit log
        audit = c.get(f"{API}/audit", params={"limit": 1000}).json()["items"]
        assert sum(1 for e in audit if e["action"] == "catalog.create" and e["object_id"] == "OT01") == 1

        assert c.get(f"{API}/packs/installs", params={"org": "E1"}).json()["items"][0]["params"] == {
            "area": "Pump room"}
        r = c.post(f"{API}/packs/gas-detection/upgrade", json={"org": "E1"})
        assert r.status_code == 200 and r.json()["from_version"] == "1.0.0" and not r.json()["conflicts"]
        r = c.post(f"{API}/packs/gas-detection/apply", json={"org": "E1", "params": {"oxygen_analysers": []}})
        assert r.status_code == 422 and "at least 1 element(s)" in r.json()["problems"][0]
        assert c.post(f"{API}/packs/gas-detection/apply", json={"org": "99999999999999999999"}).status_code == 404
