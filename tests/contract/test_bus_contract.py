"""One suite, every Bus: in-process and NATS JetStream. A remote bus delivers on its own thread,
so deliveries are awaited, never assumed."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from hazwatch.bus import InProcessBus
from hazwatch.domain.batch import ReadingBatch
from hazwatch.domain.events import AlarmChanged, IncidentChanged, ReadingsStored
from tests.conftest import eventually, require_service


@pytest.fixture(params=["in-process", "jetstream"])
def bus(request) -> Iterator:
    yield InProcessBus() if request.param == "in-process" else request.getfixturevalue("jetstream")


@pytest.fixture
def jetstream() -> Iterator:
    """A JetStream bus on the local NATS server, on a stream of its own, deleted afterwards."""
    require_service("NATS", 4222)
    from hazwatch.bus.jetstream import JetStreamBus

    tag = uuid.uuid4().hex[:8]
    b = JetStreamBus(stream=f"HZ_TEST_{tag}", prefix=f"hzt{tag}")
    try:
        yield b
    finally:
        b.delete_stream()
        b.close()


class Inbox:
    def __init__(self) -> None:
        self.items: list[tuple[str, object]] = []
        self.lock = threading.Lock()

    def __call__(self, subject: str, event: object) -> None:
        with self.lock:
            self.items.append((subject, event))


def test_subject_and_wildcard_subscribers_get_what_is_published(bus):
    one, everything = Inbox(), Inbox()
    bus.subscribe("alarm.changed", one)
    bus.subscribe("*", everything)
    assert bus.has_subscribers("alarm.changed")
    bus.publish("alarm.changed", {"n": 1})
    bus.publish("readings.stored.x", {"n": 2})
    assert eventually(lambda: len(everything.items) == 2 and len(one.items) == 1)
    assert one.items == [("alarm.changed", {"n": 1})]
    assert everything.items == [("alarm.changed", {"n": 1}), ("readings.stored.x", {"n": 2})]


def test_unsubscribed_handlers_hear_nothing_more(bus):
    inbox, witness = Inbox(), Inbox()
    stop = bus.subscribe("x", inbox)
    bus.subscribe("x", witness)
    bus.publish("x", 1)
    assert eventually(lambda: len(inbox.items) == 1 and len(witness.items) == 1)
    stop()
    bus.publish("x", 2)
    assert eventually(lambda: len(witness.items) == 2)
    time.sleep(0.1)
    assert inbox.items == [("x", 1)]


def test_a_broken_subscriber_does_not_stop_the_others(bus):
    inbox = Inbox()

    def broken(_s, _e):
        raise RuntimeError("boom")

    bus.subscribe("x", broken)
    bus.subscribe("x", inbox)
    bus.publish("x", "event")
    bus.publish("x", "again")
    assert eventually(lambda: [e for _, e in inbox.items] == ["event", "again"])


def test_the_platform_events_arrive_whole(bus):
    inbox = Inbox()
    bus.subscribe("*", inbox)
    batch = ReadingBatch.of(np.array([3, 1]), np.array([1_800_000_000_000_000, 1_800_000_001_000_000]),
                            np.array([1.5, -2.25]), np.array([0, 2]))
    alarm = AlarmChanged({"id": 7, "sensor": "TK1-LT", "priority": "urgent", "value": 18.9}, "raised")
    incident = IncidentChanged({"id": 2, "title": "overfill", "plans": ["P-OVERFILL"]}, "opened")
    for subject, event in (("readings.stored", ReadingsStored(batch)), ("alarm.changed", alarm),
                           ("incident.changed", incident)):
        bus.publish(subject, event)
    assert eventually(lambda: len(inbox.items) == 3)
    (_, stored), (_, a), (_, i) = inbox.items
    assert stored.batch.sensor.tolist() == [3, 1] and stored.batch.ts.tolist() == batch.ts.tolist()
    assert stored.batch.value.tolist() == [1.5, -2.25] and stored.batch.quality.tolist() == [0, 2]
    assert a == alarm and i == incident


def test_jetstream_keeps_events_for_consumers_that_come_later(jetstream):
    jetstream.publish("alarm.changed", {"n": 1})
    jetstream.publish("alarm.changed", {"n": 2})
    assert jetstream.stored() == 2  # acknowledged by the server, hence in the stream
