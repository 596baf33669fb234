"""An API node holds no alarm state: it reads the shared database, publishes readings like an
ingest node, shows the workers' live values, and sends an operator's alarm command to the worker
that owns the alarm, which writes it with its audit entry."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import DATA, TOKEN, eventually
from tests.scale.conftest import prepare, start_node, wait_ready

pytestmark = pytest.mark.slow


def test_api_node_reads_publishes_and_forwards_commands(nats_single, pg_database, tmp_path):
    prepare(pg_database, tmp_path, DATA / "catalog.yaml")
    env = {"HAZWATCH_DATABASE_URL": pg_database, "HAZWATCH_NATS_URL": nats_single.url, "HAZWATCH_PARTITIONS": "4",
           "HAZWATCH_LEASE_TTL_S": "2"}
    worker, api = start_node("worker", "worker", tmp_path, env), start_node("api", "api", tmp_path, env)
    try:
        wait_ready([worker, api])
        with httpx.Client(base_url=api.base + "/api/v1", headers={"Authorization": f"Bearer {TOKEN}"},
                          timeout=15) as http:
            now = time.time()
            r = http.post("/telemetry", json={"sensor": ["TK1-LT", "GT1"], "ts": [now, now], "value": [19.5, 5.0]})
            assert r.status_code == 200 and r.json()["accepted"] == 2, r.text

            def hh() -> dict | None:
                return next((a for a in http.get("/alarms", params={"state": "all"}).json()["items"]
                             if a["sensor"] == "TK1-LT" and a["condition"] == "HH"), None)
            alarm = eventually(hh, 30)
            assert alarm and alarm["active"] and not alarm["acknowledged"], alarm
            # live values: from the worker's latest-value events
            assert eventually(lambda: http.get("/sensors/TK1-LT").json()["last_value"] == 19.5, 15)

            r = http.post(f"/alarms/{alarm['id']}/ack", json={"comment": "seen from the api node"})
            assert r.status_code == 200, r.text
            assert r.json()["acknowledged"] is True
            journal = http.get(f"/alarms/{alarm['id']}/journal").json()["items"]
            assert [e["comment"] for e in journal if e["event"] == "acknowledged"] == ["seen from the api node"]
            audit = http.get("/audit", params={"action": "alarm.ack"}).json()["items"]
            assert [(e["object_id"], e["after"]["comment"]) for e in audit] == [(str(alarm["id"]),
                                                                                 "seen from the api node")]
            # the worker's refusal comes back as it would from a single server
            again = http.post(f"/alarms/{alarm['id']}/ack", json={})
            assert again.status_code == 409 and "already acknowledged" in again.json()["detail"]

            worker.kill()  # nobody owns the partition now: the caller is told to try again
            r = http.post(f"/alarms/{alarm['id']}/shelve", json={"reason": "maintenance", "minutes": 30})
            assert r.status_code == 503 and "try again" in r.json()["detail"], r.text
            assert http.get(f"/alarms/{alarm['id']}").json()["shelved_until"] is None
    finally:
        for n in (worker, api):
            n.stop()


def test_one_api_node_runs_the_singletons_and_another_takes_over(nats_single, pg_database, tmp_path):
    prepare(pg_database, tmp_path, DATA / "catalog.yaml")
    env = {"HAZWATCH_DATABASE_URL": pg_database, "HAZWATCH_NATS_URL": nats_single.url, "HAZWATCH_LEASE_TTL_S": "2"}
    nodes = [start_node("api", f"api{i}", tmp_path, env) for i in range(2)]
    try:
        wait_ready(nodes)

        def holders() -> list[str]:
            return [n.name for n in nodes if n.proc.poll() is None
                    and "runs the installation's singletons" in ((n.ready() or {}).get("detail") or "")]
        assert eventually(lambda: len(holders()) == 1, 15), [n.ready() for n in nodes]
        first = holders()
        assert eventually(lambda: holders() == first, 3)  # and it stays one
        holder = next(n for n in nodes if n.name == first[0])
        holder.kill()
        started = time.monotonic()
        other = [n.name for n in nodes if n is not holder]
        assert eventually(lambda: holders() == other, 15), [n.ready() for n in nodes if n is not holder]
        assert time.monotonic() - started < 3 * 2 + 2  # within the ttl and a renewal period or two
    finally:
        for n in nodes:
            n.stop()
