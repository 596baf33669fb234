from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from tests.auth.world import World, build_world
from tests.conftest import DATA, TOKEN, build_services, make_settings

# Users who walk every route: two sibling enterprises, two sibling parks (as park admins and as
# administrators scoped to the park, who hold every permission), and the regulator above both parks.
WALKERS = {"ea1": ("enterprise_admin", "EA1"), "ea2": ("enterprise_admin", "EA2"), "pa": ("park_admin", "PA"),
           "pb": ("park_admin", "PB"), "adm-pa": ("admin", "PA"), "adm-pb": ("admin", "PB"), "reg": ("regulator", "R")}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    # the ledger is on (its proofs are scoped routes) but integrates only when a case asks
    settings = make_settings(tmp_path_factory.mktemp("world"), rate_limit_rps=0, login_rate_limit_rps=0,
                             ledger_enabled=True, ledger_interval_s=3600)
    services = build_services(settings, DATA / "tenants.yaml")
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        w = build_world(services, client)
        for name, (role, org) in WALKERS.items():
            w.add_user(name, role, org)
            r = client.post("/api/v1/auth/keys", json={"label": "walk"}, headers=w.headers(name))
            assert r.status_code == 201, r.text
            w.key[name] = (r.json()["id"], r.json()["key"])
        yield w
