"""Notifications: a flood to one person goes out as one summary, the rate limit holds what comes
after, failed deliveries retry with back-off under one idempotency key, every attempt is logged,
and preferences decide channel, hours and priority."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import create_engine, insert, select

from hazwatch.domain.batch import US
from hazwatch.domain.limits import Priority
from hazwatch.domain.netpolicy import OutboundPolicy, parse_networks
from hazwatch.incidents.channels import Message, SendError, WebhookChannel
from hazwatch.incidents.models import Delivery, Notification
from hazwatch.incidents.notify import Notifier, NotifyPolicy, in_hours
from hazwatch.migrations.runner import upgrade
from tests.incidents.helpers import ShiftedClock, Webhook

HIGH = int(Priority.HIGH)


class Recorder:
    """A channel that keeps what it was asked to send (and can be told to fail)."""

    name = "webhook"

    def __init__(self, fail: int = 0) -> None:
        self.sent: list[tuple[str, Message]] = []
        self.fail = fail

    def send(self, address: str, message: Message) -> str:
        if self.fail:
            self.fail -= 1
            raise SendError("HTTP 503: busy")
        self.sent.append((address, message))
        return "ok"


@pytest.fixture
def engine(tmp_path):
    e = create_engine(f"sqlite:///{tmp_path / 'n.db'}")
    upgrade(e)
    with e.begin() as conn:
        from hazwatch.auth.models import User

        conn.execute(insert(User.__table__), [{"id": i, "name": f"u{i}", "role": "operator", "created_at": 0}
                                             for i in (1, 2)])
    return e


# the receivers here are a documentation block and loopback, admitted as an intranet receiver would be
TESTNET = OutboundPolicy(parse_networks(["192.0.2.0/24"]))
LOOPBACK = OutboundPolicy(parse_networks(["127.0.0.0/8"]))


def _prefs(notifier: Notifier, user: int, **kw) -> None:
    notifier.outbound = TESTNET
    notifier.set_prefs(user, {"channels": ["in_app", "webhook"], "email": None, "webhook_url": f"http://192.0.2.7/{user}",
                              "hours": None, "min_priority": "low"} | kw)


def _enqueue(notifier: Notifier, engine, n: int, users=((1, "u1"),), priority: int = HIGH) -> None:
    with engine.begin() as conn:
        for i in range(n):
            notifier.enqueue(conn, list(users), f"alarm {i}", f"body {i}", priority, None, notifier.clock.now_us())


def test_a_flood_goes_out_as_one_summary_per_person(engine):
    clock, channel = ShiftedClock(), Recorder()
    notifier = Notifier(engine, clock, {"webhook": channel})
    _prefs(notifier, 1)
    _prefs(notifier, 2)
    _enqueue(notifier, engine, 20, users=((1, "u1"), (2, "u2")))
    notifier.dispatch()
    assert sorted(a for a, _ in channel.sent) == ["http://192.0.2.7/1", "http://192.0.2.7/2"]
    address, summary = channel.sent[0]
    assert summary.subject.startswith("20 notifications") and len(summary.items) == 20
    assert [i["subject"] for i in summary.items] == [f"alarm {i}" for i in range(20)]
    with engine.connect() as conn:
        statuses = [r.status for r in conn.execute(select(Notification.__table__).where(
            Notification.channel == "webhook"))]
    assert statuses.count("grouped") == 40 and statuses.count("sent") == 2
    # the inbox keeps each message, not the summary
    assert len(notifier.inbox(1, unread=True)) == 20
    notifier.dispatch()
    assert len(channel.sent) == 2  # nothing is sent twice


def test_notices_queued_together_are_not_sent_apart_by_a_dispatch_in_between(engine):
    """The incident desk queues an escalation and the overdue tasks that climb with it in separate
    transactions; a dispatcher pass (its timer, or woken by the first notice) that ran in between
    sent the escalation alone and the tasks as a second message."""
    import threading

    clock, channel = ShiftedClock(), Recorder()
    notifier = Notifier(engine, clock, {"webhook": channel})
    _prefs(notifier, 1)
    started = threading.Event()
    with notifier.together():
        _enqueue(notifier, engine, 1)  # committed: a pass now would find it alone
        passing = threading.Thread(target=lambda: (started.set(), notifier.dispatch()))
        passing.start()
        assert started.wait(5)
        passing.join(0.3)
        assert passing.is_alive() and channel.sent == [], "the pass went ahead inside the block"
        _enqueue(notifier, engine, 2)
    passing.join(10)
    assert [m.subject for _, m in channel.sent] == ["3 notifications"]


def test_the_rate_limit_holds_a_trickle_and_then_sends_one_summary(engine):
    clock, channel = ShiftedClock(), Recorder()
    notifier = Notifier(engine, clock, {"webhook": channel}, NotifyPolicy(window_s=60, max_per_window=3))
    _prefs(notifier, 1)
    for _ in range(3):
        _enqueue(notifier, engine, 1)
        notifier.dispatch()
    assert len(channel.sent) == 3
    for _ in range(5):  # over the limit: these wait
        _enqueue(notifier, engine, 1)
        notifier.dispatch()
    assert len(channel.sent) == 3
    clock.advance(1.1)
    notifier.dispatch()
    assert len(channel.sent) == 4
    assert channel.sent[-1][1].subject.startswith("5 notifications") and len(channel.sent[-1][1].items) == 5


def test_failed_deliveries_retry_with_backoff_and_keep_their_key(engine):
    clock, channel = ShiftedClock(), Recorder(fail=2)
    notifier = Notifier(engine, clock, {"webhook": channel}, NotifyPolicy(backoff_s=10, retries=5))
    _prefs(notifier, 1)
    _enqueue(notifier, engine, 1)
    notifier.dispatch()  # attempt 1 fails
    notifier.dispatch()  # not due yet
    clock.advance(9 / 60)
    notifier.dispatch()
    assert channel.sent == []
    clock.advance(2 / 60)
    notifier.dispatch()  # attempt 2 (after 10 s) fails; the next waits 20 s
    clock.advance(15 / 60)
    notifier.dispatch()
    assert channel.sent == []
    clock.advance(6 / 60)
    notifier.dispatch()  # attempt 3 succeeds
    assert len(channel.sent) == 1
    with engine.connect() as conn:
        n = conn.execute(select(Notification.__table__).where(Notification.channel == "webhook")).one()
        log = conn.execute(select(Delivery.__table__).order_by(Delivery.id)).all()
    assert channel.sent[0][1].key == n.key and n.status == "sent" and n.attempts == 3
    assert [(d.attempt, d.ok) for d in log] == [(1, False), (2, False), (3, True)]
    assert "503" in log[0].detail


def test_a_message_that_never_gets_through_is_failed_after_its_retries(engine):
    clock, channel = ShiftedClock(), Recorder(fail=99)
    notifier = Notifier(engine, clock, {"webhook": channel}, NotifyPolicy(backoff_s=1, retries=3))
    _prefs(notifier, 1)
    _enqueue(notifier, engine, 1)
    for _ in range(5):
        notifier.dispatch()
        clock.advance(1)
    sent = [n for n in notifier.inbox(1, unread=False)]
    assert len(sent) == 1  # the in-app copy is there regardless
    with engine.connect() as conn:
        n = conn.execute(select(Notification.__table__).where(Notification.channel == "webhook")).one()
    assert (n.status, n.attempts) == ("failed", 3)


def test_preferences_decide_channel_priority_and_hours(engine):
    clock, channel = ShiftedClock(), Recorder()
    notifier = Notifier(engine, clock, {"webhook": channel}, NotifyPolicy(timezone="UTC"))
    now_minutes = (clock.now_us() // (60 * US)) % (24 * 60)
    asleep = f"{(now_minutes + 60) // 60 % 24:02d}:00-{(now_minutes + 120) // 60 % 24:02d}:00"
    _prefs(notifier, 1, min_priority="high")
    _prefs(notifier, 2, hours=asleep)
    _enqueue(notifier, engine, 1, users=((1, "u1"), (2, "u2")), priority=int(Priority.MEDIUM))
    notifier.dispatch()
    assert channel.sent == []  # too low for u1, outside u2's hours
    assert len(notifier.inbox(1, unread=True)) == len(notifier.inbox(2, unread=True)) == 1
    _enqueue(notifier, engine, 1, users=((1, "u1"), (2, "u2")), priority=int(Priority.URGENT))
    notifier.dispatch()
    assert sorted(a for a, _ in channel.sent) == ["http://192.0.2.7/1", "http://192.0.2.7/2"]  # urgent wakes u2


def test_in_hours_wraps_past_midnight():
    at = 1_700_000_000 * US  # 22:13 UTC
    assert in_hours("22:00-06:00", at, "UTC") and not in_hours("06:00-22:00", at, "UTC")
    assert in_hours(None, at, "UTC")
    assert in_hours("06:00-22:00", at, "Asia/Shanghai")  # 06:13 there


def test_webhook_signs_the_body_and_reports_refusals():
    hook = Webhook(fail=1).start()
    try:
        ch = WebhookChannel(b"k", policy=LOOPBACK)  # the receiver runs on loopback: admitted on purpose
        msg = Message("key-1", "subject", "body", "high", 7, "2026-01-01T00:00:00Z")
        with pytest.raises(SendError, match="HTTP 500"):
            ch.send(hook.url, msg)
        assert ch.send(hook.url, msg) == "HTTP 200"
        (h1, b1), (h2, b2) = hook.requests
        assert h1["Idempotency-Key"] == h2["Idempotency-Key"] == "key-1"
        assert orjson.loads(b2)["incident"] == 7
        with pytest.raises(SendError, match="ConnectError"):
            ch.send("http://127.0.0.1:9/none", msg)
    finally:
        hook.stop()
