"""Park ▸ regulator over a NATS leaf-node connection: alarms raised at the park appear at the
regulator; while the link is cut the park goes on, and afterwards nothing is missing or doubled."""

from __future__ import annotations

import asyncio
import time

import pytest
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from hazwatch.scale import tiers as tier
from tests.conftest import TOKEN, build_services, eventually, make_settings

pytestmark = pytest.mark.slow
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _raise(api: TestClient, tag: str, value: float) -> None:
    r = api.post("/api/v1/telemetry", json={"sensor": [tag], "ts": [time.time()], "value": [value]})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def _journal(api: TestClient) -> set[int]:
    ids = set()
    for a in api.get("/api/v1/alarms", params={"state": "all"}).json()["items"]:
        ids |= {e["id"] for e in api.get(f"/api/v1/alarms/{a['id']}/journal").json()["items"]}
    return ids


def _received(api: TestClient) -> list[dict]:
    r = api.get("/api/v1/tiers/events", params={"kind": "alarm", "limit": 1000})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_park_alarms_reach_the_regulator_across_a_cut_link(tiers, tmp_path):
    park = build_services(make_settings(tmp_path / "park", uplink_nats_url=tiers.park.url, uplink_name="P-T",
                                        uplink_aggregate_s=2))
    regulator = build_services(make_settings(tmp_path / "regulator", tier_nats_url=tiers.regulator.url))
    assert asyncio.run(tier.link(tiers.regulator.url, "park", "P-T")) == ["P-T"]
    assert asyncio.run(tier.link(tiers.regulator.url, "park", "P-T")) == ["P-T"]  # linking again changes nothing
    with TestClient(make_api(park), headers=AUTH) as park_api, TestClient(make_api(regulator), headers=AUTH) as reg:
        _raise(park_api, "TK1-LT", 19.5)  # above HH (18.5) and H (17)
        got = eventually(lambda: [e for e in _received(reg) if e["body"]["event"] == "raised"
                                  and e["body"]["sensor"] == "TK1-LT" and e["body"]["condition"] == "HH"], 30)
        assert got, "the park's HH alarm did not reach the regulator"
        assert got[0]["park"] == "P-T" and got[0]["body"]["enterprise"] == "E-T"
        assert got[0]["body"]["priority"] == "urgent"
        before = {int(e["key"]) for e in _received(reg)}

        tiers.link.cut()
        _raise(park_api, "TK1-LT", 10.0)  # clears H and HH
        _raise(park_api, "GT2", 90.0)
        during = eventually(lambda: (ids := _journal(park_api)) - before and len(ids) >= len(before) + 3 and ids, 20)
        assert during and len(during) > len(before), "the park stopped raising alarms while the link was cut"
        time.sleep(3)  # the uplink has published them to the park's own stream by now
        assert {int(e["key"]) for e in _received(reg)} == before  # nothing crossed the cut link

        tiers.link.restore()
        everything = _journal(park_api)
        assert eventually(lambda: {int(e["key"]) for e in _received(reg)} == everything, 60), \
            f"missing at the regulator: {sorted(everything - {int(e['key']) for e in _received(reg)})}"
        keys = [e["key"] for e in _received(reg)]
        assert len(keys) == len(set(keys))  # each journal row once
        # raw readings never go up: aggregates per sensor and window do
        assert {e["kind"] for e in reg.get("/api/v1/tiers/events", params={"limit": 1000}).json()["items"]} \
            <= {"alarm", "summary", "checkpoint", "aggregate"}
        def tk1() -> tuple[int, float, float] | None:
            """TK1-LT over every window the regulator holds: readings counted, lowest min, highest max."""
            windows = reg.get("/api/v1/tiers/events", params={"kind": "aggregate", "limit": 1000}).json()["items"]
            got = [(b["count"][i], b["min"][i], b["max"][i]) for b in (w["body"] for w in windows)
                   if "TK1-LT" in b["sensor"] for i in [b["sensor"].index("TK1-LT")]]
            return (sum(g[0] for g in got), min(g[1] for g in got), max(g[2] for g in got)) if got else None
        # both readings, each counted once, in one window or two (the cut may fall inside a window)
        assert eventually(lambda: tk1() == (2, 10.0, 19.5), 15), tk1()


def test_a_park_is_who_its_link_says_not_what_its_messages_say(tiers, tmp_path):
    """A park whose uplink names itself as another park still has its alarms filed under the park
    the regulator linked it as: no park can write into another's record at the regulator."""
    park = build_services(make_settings(tmp_path / "park", uplink_nats_url=tiers.park.url, uplink_name="P-OTHER"))
    regulator = build_services(make_settings(tmp_path / "regulator", tier_nats_url=tiers.regulator.url))
    assert asyncio.run(tier.link(tiers.regulator.url, "park", "P-T")) == ["P-T"]
    with TestClient(make_api(park), headers=AUTH) as park_api, TestClient(make_api(regulator), headers=AUTH) as reg:
        _raise(park_api, "TK1-LT", 19.5)
        got = eventually(lambda: _received(reg), 30)
        assert got and {e["park"] for e in got} == {"P-T"}
        assert reg.get("/api/v1/tiers/events", params={"park": "P-OTHER"}).json()["items"] == []
