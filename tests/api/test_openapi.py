"""The published exchange interface is the one the code serves."""

from __future__ import annotations

import json
from pathlib import Path

from hazwatch.api import create_api

ROOT = Path(__file__).resolve().parents[2]


def test_docs_openapi_matches_the_code():
    published = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert published == json.loads(json.dumps(create_api().openapi())), "run `make openapi`"


def test_contract_paths_are_documented():
    paths = create_api().openapi()["paths"]
    for p in ["/api/v1/telemetry", "/api/v1/sensors", "/api/v1/sensors/{tag}/series", "/api/v1/alarms",
              "/api/v1/alarms/{alarm_id}/journal", "/api/v1/alarms/{alarm_id}/ack",
              "/api/v1/alarms/{alarm_id}/shelve", "/api/v1/alarms/{alarm_id}/unshelve"]:
        assert p in paths, p
    body = paths["/api/v1/telemetry"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert [s["title"] for s in body["oneOf"]] == ["Rows", "Columns"]
