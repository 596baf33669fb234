"""Scale-out acceptance: two ingest nodes and two workers on a three-node NATS cluster and
PostgreSQL; one worker is killed with SIGKILL mid-stream. Every accepted reading must be stored
exactly once, and the alarm journal must hold every transition once: none lost, none twice."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml

from tests.conftest import TOKEN, eventually
from tests.scale.conftest import prepare, start_node, wait_ready

pytestmark = pytest.mark.slow

ENTERPRISES, SENSORS, STEPS, PER_REQUEST = 8, 5, 600, 4  # 40 sensors x 600 readings
HIGH, LOW, LIMIT = 90.0, 50.0, 80.0


def _catalog(path: Path) -> Path:
    orgs = [{"code": "R", "name": "County", "kind": "region"}, {"code": "P", "name": "Park", "kind": "park",
                                                                 "parent": "R"}]
    devices, sensors = [], []
    for e in range(ENTERPRISES):
        orgs.append({"code": f"E{e}", "name": f"Enterprise {e}", "kind": "enterprise", "parent": "P"})
        devices.append({"code": f"D{e}", "name": f"DCS {e}", "kind": "dcs", "org": f"E{e}"})
        for j in range(SENSORS):
            sensors.append({"tag": f"T{e}-{j}", "name": f"Tank {e}-{j}", "kind": "level", "unit": "%",
                            "device": f"D{e}", "range_low": 0, "range_high": 100, "h": LIMIT, "deadband": 1})
    path.write_text(yaml.safe_dump({"version": 1, "orgs": orgs, "devices": devices, "sensors": sensors}))
    return path


def _window(k: int) -> tuple[int, int]:
    """Steps during which sensor k reads high: spread over the whole stream, so that transitions
    happen before, around and after the kill."""
    start = 20 + (k * 37) % (STEPS - 120)
    return start, start + 30 + (k * 11) % 60


def test_a_killed_worker_loses_nothing_and_repeats_nothing(nats_cluster, pg_database, tmp_path, record_property):
    prepare(pg_database, tmp_path, _catalog(tmp_path / "catalog.yaml"))
    env = {"HAZWATCH_DATABASE_URL": pg_database, "HAZWATCH_NATS_URL": nats_cluster.url, "HAZWATCH_PARTITIONS": "8",
           "HAZWATCH_STREAM_REPLICAS": "3", "HAZWATCH_LEASE_TTL_S": "2", "HAZWATCH_FLOOD_ALARMS": "1000"}
    workers = [start_node("worker", f"worker{i}", tmp_path, env) for i in range(2)]
    ingest = [start_node("ingest", f"ingest{i}", tmp_path, env) for i in range(2)]
    nodes = workers + ingest
    try:
        wait_ready(nodes)
        # both workers hold a share: four partitions each
        assert eventually(lambda: all(len(_owned(pg_database, w.name)) == 4 for w in workers), 30), \
            f"leases: {_leases(pg_database)}"
        victim, survivor = workers
        victims = _owned(pg_database, victim.name)

        tags = [f"T{e}-{j}" for e in range(ENTERPRISES) for j in range(SENSORS)]
        t0 = int(time.time()) - STEPS - 60  # readings of the last few minutes, one per second
        accepted = [0, 0]
        killed = threading.Event()

        def send(client: int) -> None:
            mine = [k for k in range(len(tags)) if k % 2 == client]  # each sender has its own sensors
            with httpx.Client(base_url=ingest[client].base + "/api/v1", timeout=30,
                              headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                for step in range(0, STEPS, PER_REQUEST):
                    sensor, ts, value = [], [], []
                    for s in range(step, step + PER_REQUEST):
                        for k in mine:
                            lo, hi = _window(k)
                            sensor.append(tags[k])
                            ts.append(t0 + s)
                            value.append(HIGH if lo <= s < hi else LOW)
                    r = http.post("/telemetry", json={"sensor": sensor, "ts": ts, "value": value})
                    assert r.status_code == 200, r.text
                    assert r.json()["accepted"] == len(sensor), r.text
                    accepted[client] += len(sensor)
                    if client == 0 and step >= STEPS * 2 // 5 and not killed.is_set():
                        victim.kill()  # mid-stream, with batches in flight
                        killed.set()
                        killed_at[0] = time.monotonic()

        killed_at = [0.0]
        senders = [threading.Thread(target=send, args=(c,)) for c in range(2)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        assert killed.is_set()
        assert sum(accepted) == len(tags) * STEPS

        # the survivor takes the victim's partitions over within a few lease periods
        assert eventually(lambda: set(victims) <= set(_owned(pg_database, survivor.name)), 30), _leases(pg_database)
        took = time.monotonic() - killed_at[0]
        with psycopg.connect(pg_database) as con:
            def stored() -> bool:
                return con.execute("SELECT count(*) FROM readings").fetchone()[0] == len(tags) * STEPS
            assert eventually(stored, 60), "not every accepted reading was stored"
            n, distinct = con.execute("SELECT count(*), count(DISTINCT (sensor, ts)) FROM readings").fetchone()
            assert n == distinct == len(tags) * STEPS  # each exactly once

            expected = sorted((tags[k], event, (t0 + at) * 1_000_000) for k in range(len(tags))
                              for event, at in zip(("raised", "cleared"), _window(k), strict=True))

            def journal() -> list[tuple]:
                return con.execute(
                    "SELECT s.tag, j.event, j.ts FROM alarm_journal j JOIN alarms a ON a.id = j.alarm_id "
                    "JOIN sensors s ON s.id = a.sensor_id WHERE j.event IN ('raised', 'cleared') "
                    "ORDER BY 1, 3, 2").fetchall()
            assert eventually(lambda: len(journal()) >= len(expected), 30)
            got = sorted(journal())
            assert got == expected, _diff(got, expected) + _story(workers)
            dupes = con.execute("SELECT alarm_id, event, ts, count(*) FROM alarm_journal "
                                "GROUP BY 1, 2, 3 HAVING count(*) > 1").fetchall()
            assert dupes == []
            per_point = con.execute("SELECT sensor_id, condition, count(*) FROM alarms GROUP BY 1, 2 "
                                    "HAVING count(*) > 1").fetchall()
            assert per_point == []  # one alarm point per (sensor, condition): never two writers
            for k, v in (("accepted", sum(accepted)), ("stored", n), ("distinct", distinct),
                         ("journal transitions", len(got)), ("takeover (s)", round(took, 1))):
                record_property(k, v)
        assert took < 30
    finally:
        for n in nodes:
            n.stop()


def _owned(url: str, node: str) -> list[int]:
    with psycopg.connect(url) as con:
        return [r[0] for r in con.execute("SELECT partition FROM partition_leases WHERE owner = %s ORDER BY 1",
                                          [node]).fetchall()]


def _leases(url: str) -> list[tuple]:
    with psycopg.connect(url) as con:
        return con.execute("SELECT partition, owner, token FROM partition_leases ORDER BY 1").fetchall()


def _story(workers) -> str:
    """The workers' lease and fence lines: what to read when a transition went missing."""
    lines = []
    for w in workers:
        lines += [f"{w.name}: {x}" for x in w.log.read_text(errors="replace").splitlines()
                  if any(k in x for k in ("partitions now", "lapsed", "fenced", "lost", "failed", "re-evaluating"))]
    return "\n" + "\n".join(lines[-60:])


def _diff(got: list, expected: list) -> str:
    g, e = set(got), set(expected)
    return (f"missing {sorted(e - g)[:10]} ({len(e - g)}), unexpected {sorted(g - e)[:10]} ({len(g - e)}), "
            f"{len(got)} rows for {len(expected)} transitions")


