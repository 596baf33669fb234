"""Alarm KPIs on the simulated park: ten minutes of the park (two fault cycles) go through the
pipeline, a few alarms are acknowledged, and the KPIs the API reports are checked against counts
made here, independently, from each alarm's journal."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from hazwatch.domain.batch import US
from hazwatch.normalize import RawBatch
from hazwatch.risk.kpis import KpiPolicy, alarm_kpis, incident_kpis
from hazwatch.sim.park import park_catalog
from hazwatch.sim.plant import ParkSimulator
from tests.conftest import TOKEN, build_services, eventually, make_settings

API = "/api/v1"
SECONDS = 600


@pytest.fixture(scope="module")
def park_run(tmp_path_factory):
    services = build_services(make_settings(tmp_path_factory.mktemp("kpi"), incident_tick_s=3600), None)
    doc = park_catalog()
    services.catalog.apply(doc, "park")
    services.pipeline.reload_catalog()
    sim = ParkSimulator(doc)
    t0 = (time.time_ns() // 1000) - (SECONDS + 60) * US
    t0 -= t0 % (600 * US)  # start on a 10-minute boundary, so the periods are easy to count here
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for k in range(SECONDS):
            tags, ts, values, quality = sim.step(float(k), t0 + k * US)
            services.pipeline.ingest(RawBatch(tags, services.index.lookup(tags), ts, values, quality)).result()
        assert eventually(lambda: client.get(f"{API}/alarms", params={"state": "all"}).json()["count"] > 10)
        for a in client.get(f"{API}/alarms", params={"state": "unacknowledged"}).json()["items"][:5]:
            assert client.post(f"{API}/alarms/{a['id']}/ack", json={}).status_code == 200
        yield services, client, t0


def _journal(client) -> tuple[dict[int, dict], dict[int, list[dict]]]:
    alarms = {a["id"]: a for a in client.get(f"{API}/alarms", params={"state": "all"}).json()["items"]}
    return alarms, {i: client.get(f"{API}/alarms/{i}/journal").json()["items"] for i in alarms}


def _us(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * US)


def test_kpis_match_counts_from_the_journal(park_run):
    _, client, t0 = park_run
    start, end = t0, t0 + SECONDS * US
    alarms, journal = _journal(client)
    for enterprise in ("E-TANK", "E-FINE"):
        r = client.get(f"{API}/kpis", params={"enterprise": enterprise, "start": start / US, "end": end / US})
        assert r.status_code == 200, r.text
        k = r.json()["alarms"]
        raised = [(i, _us(e["ts"])) for i, a in alarms.items() if a["enterprise"] == enterprise
                  for e in journal[i] if e["event"] == "raised" and start <= _us(e["ts"]) < end]
        assert k["raised"] == len(raised) > 0
        assert k["periods_10min"] == 1 and k["peak_10min"] == len(raised)
        assert k["flood_percent"] == (100.0 if len(raised) > 10 else 0.0)
        assert k["per_hour"] == pytest.approx(len(raised) * 6, rel=1e-3)
        counts = Counter(i for i, _ in raised)
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:10]
        assert [t["count"] for t in k["top10"]] == [n for _, n in top]
        assert {t["alarm"] for t in k["top10"] if t["count"] > top[-1][1]} == \
            {i for i, n in top if n > top[-1][1]}
        # chattering: three raises within 60 s, counted the slow way
        chat = set()
        for i in counts:
            ts = sorted(t for j, t in raised if j == i)
            for a in ts:
                if sum(1 for b in ts if a <= b <= a + 60 * US) >= 3:
                    chat.add(i)
        assert {c["alarm"] for c in k["chattering"]} == chat
        # fleeting: raised and cleared again within 10 s
        fleeting = 0
        for i in counts:
            evs = [e for e in journal[i] if e["event"] in ("raised", "cleared")]
            for a, b in zip(evs, evs[1:], strict=False):
                if a["event"] == "raised" and b["event"] == "cleared" and start <= _us(a["ts"]) < end \
                        and _us(b["ts"]) < end and _us(b["ts"]) - _us(a["ts"]) < 10 * US:
                    fleeting += 1
        assert k["fleeting"] == fleeting
        mix = Counter("high" if alarms[i]["priority"] in ("high", "urgent") else alarms[i]["priority"]
                      for i, _ in raised)
        assert {p: v["count"] for p, v in k["priorities"].items()} == {p: mix[p] for p in ("low", "medium", "high")}
        assert k["priorities"]["low"]["guideline_percent"] == 80.0


def test_scope_and_the_whole_area(park_run):
    services, client, t0 = park_run
    params = {"start": t0 / US, "end": (t0 + SECONDS * US) / US}
    tank = client.get(f"{API}/kpis", params={**params, "enterprise": "E-TANK"}).json()["alarms"]["raised"]
    fine = client.get(f"{API}/kpis", params={**params, "enterprise": "E-FINE"}).json()["alarms"]["raised"]
    assert client.get(f"{API}/kpis", params=params).json()["alarms"]["raised"] == tank + fine
    from tests.incidents.helpers import add_user

    op = add_user(services, "op-kpi", "operator", "E-FINE")
    assert client.get(f"{API}/kpis", params=params, headers=op).json()["alarms"]["raised"] == fine
    assert client.get(f"{API}/kpis", params={**params, "enterprise": "E-TANK"}, headers=op).status_code == 404
    r = client.get(f"{API}/kpis", params={"start": 10, "end": 5})
    assert r.status_code == 422


def test_acknowledgement_times_standing_alarms_and_incident_response():
    s = 1_000_000 * US
    events = [{"alarm_id": 1, "ts": s + 0, "event": "raised"},
              {"alarm_id": 1, "ts": s + 30 * US, "event": "acknowledged"},
              {"alarm_id": 1, "ts": s + 5 * US, "event": "cleared"},
              {"alarm_id": 2, "ts": s + 10 * US, "event": "raised"},
              {"alarm_id": 3, "ts": s + 20 * US, "event": "raised"}, {"alarm_id": 3, "ts": s + 110 * US,
                                                                      "event": "acknowledged"}]
    alarms = {1: {"label": "A H", "priority": 1, "active": False, "raised_at": s},
              2: {"label": "B HH", "priority": 4, "active": True, "raised_at": s - 2 * 86400 * US},
              3: {"label": "C L", "priority": 2, "active": True, "raised_at": s + 20 * US}}
    k = alarm_kpis(events, alarms, s, s + 3600 * US, KpiPolicy())
    assert k["acknowledge"] == {"count": 2, "mean_s": 60.0, "median_s": 60.0, "p90_s": 90.0, "unacknowledged": 1}
    assert k["fleeting"] == 1 and [x["label"] for x in k["standing"]] == ["B HH"]
    assert k["per_hour"] == 3.0 and k["periods_10min"] == 6 and k["flood_percent"] == 0.0
    inc = incident_kpis([{"opened_at": 0, "acknowledged_at": 60 * US, "contained_at": 600 * US, "closed_at": None},
                         {"opened_at": 0, "acknowledged_at": None, "contained_at": None, "closed_at": None}])
    assert inc["opened"] == 2 and inc["acknowledge"]["median_s"] == 60.0 and inc["contain"]["count"] == 1
    assert inc["close"]["count"] == 0
