"""Fault injection: the real server as a subprocess, real services, and a sender that keeps count
of what was acknowledged, so each test can assert exact numbers."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

from tests.conftest import TOKEN
from tests.scale.conftest import nats_single  # noqa: F401 - the fixture, for the NATS restart test


@dataclass
class Sender:
    """Posts one batch of `per_batch` readings every `every_s` seconds to /api/v1/telemetry, each
    reading unique in (sensor, ts), until stopped; remembers every answer. A batch answered 503 or
    507 is sent again (as a gateway would), with the same readings, after the Retry-After it got."""

    base: str
    sensors: list[str]
    per_batch: int = 50
    every_s: float = 0.1
    t0: float = field(default_factory=lambda: time.time() - 3600)
    accepted: list[tuple[str, float]] = field(default_factory=list)  # (sensor, ts) answered 200
    answers: list[tuple[float, int, dict, dict]] = field(default_factory=list)  # (time, status, headers, body)
    _stop: threading.Event = field(default_factory=threading.Event)
    _n: int = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(120)

    def _batch(self) -> dict:
        k = self._n
        self._n += self.per_batch
        idx = range(k, k + self.per_batch)
        return {"sensor": [self.sensors[i % len(self.sensors)] for i in idx],
                "ts": [round(self.t0 + i * 0.001, 3) for i in idx], "value": [1.0 + i % 5 for i in idx]}

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as c:
            body = self._batch()
            while not self._stop.is_set():
                try:
                    r = c.post("/api/v1/telemetry", json=body)
                    status, headers, data = r.status_code, dict(r.headers), r.json()
                except (httpx.HTTPError, ValueError) as e:
                    status, headers, data = 0, {}, {"error": repr(e)}
                self.answers.append((time.time(), status, headers, data))
                if status == 200:
                    rejected = {x["index"] for x in data["rejected"]}
                    self.accepted += [(s, t) for i, (s, t) in enumerate(zip(body["sensor"], body["ts"], strict=True))
                                      if i not in rejected]
                    body = self._batch()
                    self._stop.wait(self.every_s)
                else:  # not stored: the same readings again
                    self._stop.wait(min(5.0, float(headers.get("retry-after", 1))))

    def statuses(self) -> list[int]:
        return [a[1] for a in self.answers]
