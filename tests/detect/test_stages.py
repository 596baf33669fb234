"""The detection stages' one shape: a stage registered by one line sees every stored batch and
every tick, and its findings become alarms like any other stage's (committed with the batch,
journaled, listed by the API), and it is built again when alarm state is rebuilt."""

from __future__ import annotations

import time

import numpy as np
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from hazwatch.domain.findings import SENSOR, Finding
from hazwatch.domain.limits import Priority
from tests.conftest import TOKEN, build_services, eventually, make_settings


class SpikeStage:
    """A toy detector: a reading more than 5 above the sensor's previous one is a SPIKE; the next
    reading that is not clears it. Built from the pipeline like the shipped stages."""

    replays = True
    built = 0

    def __init__(self, host) -> None:
        SpikeStage.built += 1
        self.last: dict[int, float] = {}
        self.on: set[int] = set()

    def observe(self, batch, index) -> list[Finding]:
        out = []
        for s, ts, v in zip(batch.sensor.tolist(), batch.ts.tolist(), batch.value.tolist(), strict=True):
            prev = self.last.get(s)
            spike = prev is not None and v - prev > 5
            if spike != (s in self.on):
                (self.on.add if spike else self.on.discard)(s)
                out.append(Finding(SENSOR, s, "SPIKE", spike, ts, int(Priority.HIGH), v, "jumped"))
            self.last[s] = v
        return out

    def tick(self, now_us, index) -> list[Finding]:
        return []

    def reload(self, index) -> None:
        pass


def test_a_stage_registered_by_one_line_raises_and_clears_its_alarms(tmp_path):
    services = build_services(make_settings(tmp_path))
    SpikeStage.built = 0
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        services.pipeline.register(SpikeStage)  # the one line
        now = time.time()
        r = client.post("/api/v1/telemetry", json={"sensor": ["GT2"] * 3, "ts": [now - 3, now - 2, now - 1],
                                                   "value": [1.0, 9.0, 10.0]})
        assert r.json()["accepted"] == 3

        def spikes() -> list[dict]:
            return [a for a in client.get("/api/v1/alarms", params={"state": "all"}).json()["items"]
                    if a["condition"] == "SPIKE"]

        assert eventually(lambda: len(spikes()) == 1)
        [alarm] = spikes()
        assert (alarm["sensor"], alarm["priority"], alarm["active"], alarm["enterprise"]) == ("GT2", "high", False,
                                                                                          "E-T")
        history = client.get(f"/api/v1/alarms/{alarm['id']}/journal").json()["items"]
        assert [h["event"] for h in history if h["event"] in ("raised", "cleared")] == ["raised", "cleared"]
        # rebuilt with alarm state, as the shipped stages are (a recovery, a worker's new partitions)
        before = SpikeStage.built
        services.pipeline.call(services.pipeline.rescope).result()
        assert SpikeStage.built == before + 1
        assert isinstance(services.pipeline.stages[-1], SpikeStage)
        assert np.all([type(s).__name__ for s in services.pipeline.stages[:4]] ==
                      np.array(["QualityStage", "UnitStage", "TrendStage", "RuleStage"]))
