"""Several ingest nodes on one broker: with a shared subscription each message reaches one of
them, so no reading is taken (and stored, and evaluated) twice."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from concurrent.futures import Future

from hazwatch.domain.batch import IngestResult
from hazwatch.ingest.mqtt import MqttAdapter
from tests.conftest import DATA, build_services, make_settings
from tests.integration.test_mqtt_ingest import Publisher, mosquitto_service, purge_session, until


def test_a_share_group_splits_the_messages_between_receivers(tmp_path):
    port = mosquitto_service()
    index = build_services(make_settings(tmp_path), DATA / "tenants.yaml").index
    got: Counter = Counter()

    def sink(name: str):
        def take(raw) -> Future:
            got[name] += len(raw)
            done: Future = Future()
            done.set_result(IngestResult(len(raw), []))
            return done
        return take

    group, ids = f"hz-{uuid.uuid4().hex[:6]}", [f"hz-shared-{uuid.uuid4().hex[:6]}-{i}" for i in range(2)]
    adapters = [MqttAdapter(f"mqtt://127.0.0.1:{port}", tmp_path / f"spool{i}", sink(f"node{i}"), lambda: index,
                            client_id=ids[i], share_group=group) for i in range(2)]
    pub = None
    try:
        for a in adapters:
            asyncio.run(a.start())
        assert until(lambda: all(a.connected() for a in adapters), 15)
        time.sleep(0.5)  # both subscriptions in place
        pub = Publisher(port, f"{ids[0]}-dev")
        now = time.time()
        for i in range(40):
            pub.send("hz/v1/EA1/D-EA1/telemetry", json.dumps({"sensor": ["T-EA1"], "ts": [now - 100 + i],
                                                              "value": [1.0]}))
        assert until(lambda: sum(got.values()) >= 40, 15)
        time.sleep(0.5)
        assert sum(got.values()) == 40, got  # each message once
        assert got["node0"] > 0 and got["node1"] > 0, got  # and both took some
    finally:
        if pub is not None:
            pub.close()
        for a in adapters:
            asyncio.run(a.stop())
        for client_id in ids:
            purge_session(port, client_id)
