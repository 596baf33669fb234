"""Series queries (raw and downsampled) and the live WebSocket stream."""

from __future__ import annotations

import time

import orjson
import pytest

T = float(int(time.time()) // 3600 * 3600 - 7200)  # an hour boundary two hours ago


def test_downsampled_series_min_avg_max_last_count(client):
    values = [float(i % 10) for i in range(120)]
    client.post("/api/v1/telemetry", json={"sensor": ["GT2"] * 120, "ts": [T + i for i in range(120)],
                                           "value": values,
                                           "quality": ["good"] * 119 + ["bad"]})
    r = client.get("/api/v1/sensors/GT2/series", params={"start": T, "end": T + 120, "step": "1m"})
    assert r.status_code == 200
    s = r.json()
    assert s["ts"] == [T, T + 60]
    assert s["min"] == [0, 0] and s["max"] == [9, 9]
    assert s["count"] == [60, 59]  # the bad reading is left out of aggregates
    assert s["avg"][0] == pytest.approx(4.5)
    assert s["last"] == [9.0, 8.0]
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T))
    r2 = client.get("/api/v1/sensors/GT2/series", params={"start": iso + "Z", "end": T + 120, "step": 60})
    assert r2.json()["count"] == s["count"]
    raw = client.get("/api/v1/sensors/GT2/series", params={"start": T, "end": T + 5}).json()
    assert raw["value"] == [0, 1, 2, 3, 4] and raw["ts"][0] == T and "min" not in raw


@pytest.mark.parametrize(("params", "needle"), [
    ({"start": "soon"}, "`start`"),
    ({"step": "fast"}, "`step`"),
    ({"step": "0"}, "`step`"),
    ({"start": 200, "end": 100}, "before"),
])
def test_bad_series_parameters_are_422(client, params, needle):
    r = client.get("/api/v1/sensors/GT2/series", params=params)
    assert r.status_code == 422 and needle in r.json()["detail"]


def test_stream_pushes_values_and_alarm_changes(client):
    from tests.conftest import TOKEN

    with client.websocket_connect(f"/api/v1/stream?token={TOKEN}") as ws:
        now = time.time()
        client.post("/api/v1/telemetry", json={"sensor": ["TK1-LT", "TK1-LT"], "ts": [now - 1, now],
                                               "value": [10.0, 17.5]})
        seen = [orjson.loads(ws.receive_text()) for _ in range(2)]
    kinds = {m["type"]: m for m in seen}
    assert kinds["values"]["sensor"] == ["TK1-LT"] and kinds["values"]["value"] == [17.5]
    assert kinds["alarm"]["event"] == "raised"
    assert kinds["alarm"]["alarm"]["sensor"] == "TK1-LT" and kinds["alarm"]["alarm"]["condition"] == "H"


def test_stream_of_alarm_changes_only(client):
    """`?values=false`: the first message is the alarm, though the stored batch came before it."""
    from tests.conftest import TOKEN

    with client.websocket_connect(f"/api/v1/stream?token={TOKEN}&values=false") as ws:
        now = time.time()
        client.post("/api/v1/telemetry", json={"sensor": ["TK1-LT", "TK1-LT"], "ts": [now - 1, now],
                                               "value": [10.0, 17.5]})
        first = orjson.loads(ws.receive_text())
    assert first["type"] == "alarm" and first["event"] == "raised" and first["alarm"]["sensor"] == "TK1-LT"


def test_stream_refuses_without_token(client):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as e, \
            client.websocket_connect("/api/v1/stream", headers={"Authorization": ""}) as ws:
        ws.receive_text()
    assert e.value.code == 4401


def test_a_batch_stream_gets_what_gathered_in_one_frame(client):
    """`?batch=true` (what the console asks for): the alarm and the values of one stored batch come
    as one frame of messages, each as a plain stream would send it."""
    from tests.conftest import TOKEN

    with client.websocket_connect(f"/api/v1/stream?token={TOKEN}&batch=true") as ws:
        now = time.time()
        client.post("/api/v1/telemetry", json={"sensor": ["TK1-LT", "TK1-LT"], "ts": [now - 1, now],
                                               "value": [10.0, 17.5]})
        seen = []
        while {"alarm", "values"} - {m["type"] for m in seen}:
            frame = orjson.loads(ws.receive_text())
            assert frame["type"] == "batch" and frame["messages"]
            seen += frame["messages"]
    alarm = next(m for m in seen if m["type"] == "alarm")
    assert alarm["alarm"]["sensor"] == "TK1-LT" and alarm["alarm"]["condition"] == "H"
    assert next(m for m in seen if m["type"] == "values")["value"] == [17.5]


def test_a_compound_rule_alarm_reaches_the_consoles_of_its_enterprise_only(services, client):
    """A rule's alarm has no sensor of its own: it is placed by the rule's org (SensorIndex.owner),
    so E-T's console sees it and E-OTHER's does not."""
    from tests.incidents.helpers import add_user

    r = client.post("/api/v1/catalog", json={"rules": [
        {"code": "R-BOTH", "name": "level and gas together", "org": "E-T", "when": "TK1-LT > 15 and GT1 > 20"}]})
    assert r.status_code == 200, r.text
    services.pipeline.reload_catalog()
    op = {org: add_user(services, f"op-{org}", "operator", org) for org in ("E-T", "E-OTHER")}
    with client.websocket_connect("/api/v1/stream?values=false", headers=op["E-T"]) as mine, \
            client.websocket_connect("/api/v1/stream?values=false", headers=op["E-OTHER"]) as theirs:
        now = time.time()
        # both conditions true, no limit of either sensor crossed: the rule's alarm is the only one
        client.post("/api/v1/telemetry", json={"sensor": ["TK1-LT", "GT1", "OTHER-PT"], "ts": [now] * 3,
                                               "value": [16.0, 22.0, 1.0]})
        first = orjson.loads(mine.receive_text())
        assert (first["event"], first["alarm"]["rule"], first["alarm"]["enterprise"]) == ("raised", "R-BOTH", "E-T")
        # the other enterprise's first frame is its own sensor's alarm, raised after the rule's
        client.post("/api/v1/telemetry", json={"sensor": ["OTHER-PT"], "ts": [now + 1], "value": [3.0]})
        other = orjson.loads(theirs.receive_text())
        assert (other["alarm"]["sensor"], other["alarm"]["enterprise"]) == ("OTHER-PT", "E-OTHER"), other


def test_an_alarm_flood_reaches_a_batch_socket_in_a_few_frames_and_loses_nothing():
    """The hub hands alarm changes over at once, but not again within HAND_GAP_S: 300 changes over
    half a second reach a `?batch=true` socket complete, in a handful of frames, in order."""
    import asyncio

    from hazwatch.api.streamhub import HAND_GAP_S, StreamHub
    from hazwatch.auth.scope import Scope
    from hazwatch.bus.memory import InProcessBus
    from hazwatch.domain.events import ALARM_CHANGED, AlarmChanged

    bus = InProcessBus()
    hub = StreamHub(bus, index=lambda: None, interval_s=3600)
    n, span = 300, 0.5

    async def watch() -> tuple[list[dict], float]:
        sub = hub.join("operator", 5, Scope(frozenset({7})), with_values=False, batch=True)
        other = hub.join("neighbour", 5, Scope(frozenset({8})), with_values=False, batch=True)
        started = time.monotonic()
        for i in range(n):
            bus.publish(ALARM_CHANGED, AlarmChanged({"id": i}, "raised", org_id=7))
            await asyncio.sleep(span / n)
        took = time.monotonic() - started
        frames: list[dict] = []
        while sum(len(f["messages"]) for f in frames) < n:
            frames.append(orjson.loads(await asyncio.wait_for(sub.queue.get(), 5)))
        assert other.queue.empty()  # another enterprise's console sees none of it
        return frames, took

    frames, took = asyncio.run(watch())
    assert [m["alarm"]["id"] for f in frames for m in f["messages"]] == list(range(n))
    assert len(frames) <= took / HAND_GAP_S + 2, f"{len(frames)} frames for {n} changes over {took:.2f} s"



def test_a_plain_socket_gets_each_alarm_change_without_waiting_for_the_batch_gap():
    """Only batch sockets wait out HAND_GAP_S after a frame: a plain socket (one message per change,
    an API client's) gets a change that follows another within the gap before the batch socket does."""
    import asyncio

    from hazwatch.api.streamhub import StreamHub
    from hazwatch.auth.scope import Scope
    from hazwatch.bus.memory import InProcessBus
    from hazwatch.domain.events import ALARM_CHANGED, AlarmChanged

    bus = InProcessBus()
    hub = StreamHub(bus, index=lambda: None, interval_s=3600)

    async def watch() -> list[str]:
        plain = hub.join("client", 5, Scope(frozenset({7})), with_values=False)
        batch = hub.join("console", 5, Scope(frozenset({7})), with_values=False, batch=True)
        bus.publish(ALARM_CHANGED, AlarmChanged({"id": 1}, "raised", org_id=7))
        await asyncio.wait_for(plain.queue.get(), 5)
        await asyncio.wait_for(batch.queue.get(), 5)  # a frame just went: the batch socket's gap begins
        bus.publish(ALARM_CHANGED, AlarmChanged({"id": 2}, "raised", org_id=7))
        order: list[str] = []

        async def first(name: str, sub) -> None:
            msg = orjson.loads(await asyncio.wait_for(sub.queue.get(), 5))
            assert (msg["messages"][0] if name == "batch" else msg)["alarm"]["id"] == 2
            order.append(name)

        await asyncio.gather(first("plain", plain), first("batch", batch))
        return order

    assert asyncio.run(watch()) == ["plain", "batch"]
