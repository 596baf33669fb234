"""/metrics: what an operator's Prometheus scrapes, counted per batch, behind a token."""

import time

from fastapi.testclient import TestClient

from hazwatch.app import make_api
from tests.conftest import TOKEN


def _value(text: str, name: str) -> float:
    line = next(x for x in text.splitlines() if x.startswith(name + " ") or x.startswith(name + "{") and "} " in x)
    return float(line.rsplit(" ", 1)[1])


def test_metrics_count_readings_batches_and_alarms(services):
    with TestClient(make_api(services)) as c:
        assert c.get("/metrics").status_code == 401
        h = {"Authorization": f"Bearer {TOKEN}"}
        before = c.get("/metrics", headers=h).text
        body = {"sensor": ["TK1-LT", "TK1-LT", "NO-SUCH"], "ts": [time.time() - 1, time.time()], "value": [19.5, 19.6]}
        body["ts"].append(time.time())
        body["value"].append(1.0)
        assert c.post("/api/v1/telemetry", json=body, headers=h).json()["accepted"] == 2
        after = c.get("/metrics", headers=h)
        assert after.headers["content-type"].startswith("text/plain")
        text = after.text
        for name, grew in (('hazwatch_readings_total{result="accepted"}', 2),
                           ('hazwatch_readings_total{result="rejected"}', 1)):
            assert _value(text, name) - (_value(before, name) if name in before else 0) == grew
        assert _value(text, "hazwatch_ingest_batches_total") > _value(before, "hazwatch_ingest_batches_total")
        assert _value(text, 'hazwatch_alarm_transitions_total{event="raised"}') >= 1
        assert "hazwatch_evaluation_seconds_bucket" in text and "hazwatch_writer_queue " in text
