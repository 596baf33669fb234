"""Warning in advance, through the whole pipeline: a rate-of-change alarm (ROC) with its deadband,
and the trend-to-limit early warning (TREND) that says when H will be crossed, is not fooled by a
spike, and is withdrawn when the trend turns or the limit alarm takes over."""

from __future__ import annotations

import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from hazwatch.catalog.schema import CatalogDoc, SensorDoc
from tests.conftest import TOKEN, build_services, make_settings

T0 = time.time() - 7200  # readings from two hours ago, one a second


def sensor(**kw) -> SensorDoc:
    base = {"tag": "PT-7", "name": "Reactor pressure", "kind": "pressure", "unit": "kPa", "device": "DCS-T",
            "range_low": 0, "range_high": 200, "h": 80, "hh": 95}
    return SensorDoc(**{**base, **kw})


@pytest.fixture
def make(tmp_path):
    clients = []

    def build(doc: SensorDoc) -> TestClient:
        services = build_services(make_settings(tmp_path / str(len(clients))))
        services.catalog.apply(CatalogDoc(sensors=[doc]), "test")
        services.pipeline.reload_catalog()
        c = TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"})
        c.__enter__()
        clients.append(c)
        return c

    yield build
    for c in clients:
        c.__exit__(None, None, None)


def feed(c: TestClient, values, start_s: float) -> float:
    """One reading a second from start_s (seconds after T0), ten per request; returns the next start."""
    values = list(values)
    for i in range(0, len(values), 10):
        chunk = values[i:i + 10]
        ts = [T0 + start_s + i + k for k in range(len(chunk))]
        r = c.post("/api/v1/telemetry", json={"sensor": ["PT-7"] * len(chunk), "ts": ts, "value": chunk})
        assert r.json()["accepted"] == len(chunk), r.text
    return start_s + len(values)


def journal(c: TestClient, condition: str) -> list[dict]:
    items = [a for a in c.get("/api/v1/alarms", params={"state": "all"}).json()["items"]
             if a["condition"] == condition]
    if not items:
        return []
    return [e for e in c.get(f"/api/v1/alarms/{items[0]['id']}/journal").json()["items"]
            if e["event"] in ("raised", "cleared")]


def test_rate_of_change_rises_on_a_fast_ramp_and_clears_below_the_deadband(make):
    c = make(sensor(roc_limit=5.0, roc_window_s=60, roc_deadband=1.0))
    at = feed(c, 40 + np.arange(120) / 60.0, 0)  # 1 kPa/min: well inside the limit
    assert journal(c, "ROC") == []
    at = feed(c, 42 + np.arange(1, 91) * 10 / 60.0, at)  # 10 kPa/min
    events = journal(c, "ROC")
    assert [e["event"] for e in events] == ["raised"]
    assert 5.0 < events[0]["value"] <= 10.5 and "limit 5/min" in events[0]["comment"]  # as it crossed 5/min
    at = feed(c, 57 + np.arange(1, 40) * 4.5 / 60.0, at)  # 4.5 kPa/min: below the limit, inside the deadband
    assert [e["event"] for e in journal(c, "ROC")] == ["raised"]
    feed(c, np.full(90, 60.0), at)  # steady
    assert [e["event"] for e in journal(c, "ROC")] == ["raised", "cleared"]
    assert journal(c, "H") == []


def test_trend_warns_before_the_crossing_and_withdraws_when_the_trend_turns(make):
    c = make(sensor(trend_horizon_s=600, trend_window_s=300))
    rng = np.random.default_rng(1)
    ramp = 50 + 2.0 * np.arange(420) / 60.0 + rng.normal(0, 0.2, 420)  # 2 kPa/min toward H=80: crossing at 15 min
    at = feed(c, ramp, 0)
    events = journal(c, "TREND")
    assert [e["event"] for e in events] == ["raised"]
    raised = events[0]
    assert raised["value"] <= 10.0 and "predicted to cross H (80 kPa)" in raised["comment"]
    assert abs(raised["value"] - 10.0) < 1.5  # raised as the crossing came within the 10-minute horizon
    assert journal(c, "H") == []  # still below H: this is the advance warning
    feed(c, 64 - 3.0 * np.arange(1, 300) / 60.0, at)  # the operator acts: falling now
    events = journal(c, "TREND")
    assert [e["event"] for e in events] == ["raised", "cleared"]
    assert "trend turned" in events[1]["comment"]


def test_a_single_spike_does_not_make_a_trend(make):
    c = make(sensor(trend_horizon_s=600, trend_window_s=300))
    values = 50 + np.random.default_rng(2).normal(0, 0.2, 400)
    values[200] = 79.0
    feed(c, values, 0)
    assert journal(c, "TREND") == []


def test_the_limit_alarm_takes_over_from_the_prediction(make):
    c = make(sensor(trend_horizon_s=600, trend_window_s=300))
    feed(c, 60 + 4.0 * np.arange(420) / 60.0, 0)  # crosses H=80 after 5 minutes
    events = journal(c, "TREND")
    assert [e["event"] for e in events] == ["raised", "cleared"]
    assert "limit alarm takes over" in events[1]["comment"]
    assert [e["event"] for e in journal(c, "H")] == ["raised"]
    h_raised = journal(c, "H")[0]["ts"]
    assert events[0]["ts"] < h_raised  # the warning came first


def test_a_trend_horizon_needs_a_limit_to_aim_at():
    with pytest.raises(ValueError, match="needs an H or L limit"):
        SensorDoc(tag="X", name="x", kind="flow", unit="m3/h", device="D", range_low=0, range_high=10,
                  trend_horizon_s=60)
    with pytest.raises(ValueError, match="roc_deadband 5.0 must be below roc_limit 5.0"):
        SensorDoc(tag="X", name="x", kind="flow", unit="m3/h", device="D", range_low=0, range_high=10,
                  roc_limit=5, roc_deadband=5)
