"""The audit log: every write with who, what, when, before and after; append-only in the database
itself; read in scope."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from hazwatch.auth.models import AuditEntry
from tests.auth.world import build_world
from tests.conftest import DATA, build_services, make_settings

API = "/api/v1"


def entries(w, **params) -> list[dict]:
    return w.client.get(f"{API}/audit", params=params).json()["items"]


def test_alarm_commands_are_audited_with_before_and_after(world):
    world.add_user("aud-op", "operator", "EA2")
    aid = world.alarm_id["T-EA2"]
    r = world.client.post(f"{API}/alarms/{aid}/shelve", json={"minutes": 3, "reason": "pump swap"},
                          headers=world.headers("aud-op"))
    assert r.status_code == 200
    e = entries(world, action="alarm.shelve", actor="aud-op")[0]
    assert e["object_type"] == "alarm" and e["object_id"] == str(aid) and e["actor_role"] == "operator"
    assert e["before"]["shelved_until"] is None and e["after"]["shelved_until"] is not None
    assert e["after"]["comment"] == "pump swap" and e["remote"] == "testclient"
    assert e["org_id"] == world.org_id["EA2"]


def test_catalog_changes_are_audited_item_by_item(world):
    doc = {"sensors": [{"tag": "T-EB1", "name": "Tank B1 level", "kind": "level", "unit": "m", "device": "D-EB1",
                        "range_low": 0, "range_high": 100, "hh": 55}]}
    assert world.client.post(f"{API}/catalog", json=doc).json()["updated"] == {"sensors": 1}
    e = entries(world, action="catalog.update", object_type="sensor")[0]
    assert e["object_id"] == "T-EB1" and e["org_id"] == world.org_id["EB1"]
    assert (e["before"]["hh"], e["after"]["hh"]) == (50.0, 55.0)
    # re-applying the same document changes nothing and writes nothing
    n = len(entries(world, action="catalog.update"))
    assert world.client.post(f"{API}/catalog", json=doc).json()["unchanged"] == {"sensors": 1}
    assert len(entries(world, action="catalog.update")) == n


def test_user_and_credential_writes_are_audited(world):
    assert {"user.create", "device_credential.issue", "api_key.create"} <= {e["action"] for e in entries(world)}


def test_scoped_readers_see_only_their_orgs(world):
    world.add_user("aud-ea1", "enterprise_admin", "EA1")
    items = world.client.get(f"{API}/audit", headers=world.headers("aud-ea1")).json()["items"]
    assert items and {e["org_id"] for e in items} == {world.org_id["EA1"]}


def _append_only(engine) -> None:
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar() > 0
        assert conn.execute(text("SELECT count(*) FROM alarm_journal")).scalar() > 0
    for stmt in (update(AuditEntry).values(actor="someone else"), delete(AuditEntry),
                 text("UPDATE alarm_journal SET actor = 'x'"), text("DELETE FROM alarm_journal")):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(stmt)


def test_the_database_refuses_to_rewrite_history(world):
    _append_only(world.services.engine)


@pytest.mark.services
def test_postgresql_refuses_to_rewrite_history(tmp_path, pg_database):
    from fastapi.testclient import TestClient

    from hazwatch.app import make_api
    from tests.conftest import TOKEN

    services = build_services(make_settings(tmp_path, database_url=pg_database), DATA / "tenants.yaml")
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        build_world(services, client)
        _append_only(services.engine)
        with pytest.raises(DBAPIError, match="append-only"), services.engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))
    services.engine.dispose()
