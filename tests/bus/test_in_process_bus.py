"""The in-process bus: subjects, wildcard, unsubscribe, and a failing subscriber that harms nobody."""

from __future__ import annotations

from hazwatch.bus import InProcessBus


def test_publish_reaches_subscribers_of_the_subject_and_wildcard():
    bus = InProcessBus()
    got: list[tuple[str, object]] = []
    unsub = bus.subscribe("alarm.changed", lambda s, e: got.append((s, e)))
    bus.subscribe("*", lambda s, e: got.append(("*", e)))
    assert bus.has_subscribers("alarm.changed") and bus.has_subscribers("readings.stored")
    bus.publish("alarm.changed", 1)
    bus.publish("readings.stored", 2)
    assert got == [("alarm.changed", 1), ("*", 1), ("*", 2)]
    unsub()
    bus.publish("alarm.changed", 3)
    assert got[-1] == ("*", 3) and len(got) == 4


def test_a_broken_subscriber_does_not_stop_the_others():
    bus = InProcessBus()
    got = []

    def broken(_s, _e):
        raise RuntimeError("boom")

    bus.subscribe("x", broken)
    bus.subscribe("x", lambda s, e: got.append(e))
    bus.publish("x", "event")
    assert got == ["event"]
