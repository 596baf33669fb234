"""Notifications: queued in the same transaction as the incident change that caused them, sent by
a dispatcher that retries with back-off, folds what piles up for one person into one summary
(a flood sends one message, not a storm) and logs every attempt.

Per-user preferences pick the channels, the hours (local time) outside which only in-app messages
and urgent ones arrive, and the lowest priority worth a message at all."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, insert, select, update

from hazwatch.domain import Clock
from hazwatch.domain.batch import US
from hazwatch.domain.clock import iso
from hazwatch.domain.errors import NotFound
from hazwatch.domain.limits import Priority
from hazwatch.domain.netpolicy import OutboundPolicy
from hazwatch.incidents.channels import Channel, Message, SendError
from hazwatch.incidents.models import Delivery, Notification, NotificationPrefs
from hazwatch.incidents.outbound import check_url

log = logging.getLogger(__name__)
_N = Notification.__table__
_D = Delivery.__table__
_P = NotificationPrefs.__table__
CHANNELS = ("in_app", "email", "webhook")
DEFAULT_CHANNELS = ["in_app"]


@dataclass(frozen=True)
class NotifyPolicy:
    window_s: float = 60.0  # the rate-limit window per recipient and channel
    max_per_window: int = 3  # messages a recipient gets on one channel per window; the rest wait for a summary
    retries: int = 5  # attempts before a message is given up as failed
    backoff_s: float = 5.0  # first retry after this long, doubling each time
    timezone: str = "Asia/Shanghai"  # what a preference's hours mean


def in_hours(hours: str | None, now_us: int, tz: str) -> bool:
    """Whether `now` lies within "HH:MM-HH:MM" (local time; a span past midnight wraps)."""
    if not hours:
        return True
    start, end = (int(p[:2]) * 60 + int(p[3:]) for p in hours.split("-"))
    t = datetime.fromtimestamp(now_us / US, ZoneInfo(tz))
    m = t.hour * 60 + t.minute
    return start <= m < end if start <= end else (m >= start or m < end)


class Notifier:
    def __init__(self, engine: Engine, clock: Clock, channels: dict[str, Channel],
                 policy: NotifyPolicy | None = None, outbound: OutboundPolicy | None = None) -> None:
        self.engine, self.clock, self.channels = engine, clock, channels
        self.policy = policy or NotifyPolicy()
        self.outbound = outbound or OutboundPolicy()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._dispatching = threading.Lock()  # one pass at a time: two would send the same message twice
        self._gate = threading.Lock()  # held while notices that belong together are queued (`together`)
        self._thread: threading.Thread | None = None

    # -- queueing (inside the caller's transaction) -----------------------------------------------------
    def enqueue(self, conn: Connection, recipients: list[tuple[int, str]], subject: str, body: str, priority: int,
                incident_id: int | None, now: int) -> int:
        """Queue one message per recipient and channel; returns how many were queued."""
        if not recipients:
            return 0
        prefs = {r["user_id"]: r for r in conn.execute(
            select(_P).where(_P.c.user_id.in_([u for u, _ in recipients]))).mappings()}
        rows = []
        for user_id, _name in recipients:
            p = prefs.get(user_id)
            channels = list(p["channels"]) if p else DEFAULT_CHANNELS
            wanted = priority >= int(Priority.parse(p["min_priority"])) if p else True
            awake = priority >= Priority.URGENT or in_hours(p["hours"] if p else None, now, self.policy.timezone)
            for ch in channels:
                if ch == "in_app":  # the inbox keeps everything; it is read when the user looks
                    rows.append(self._row(user_id, ch, None, subject, body, priority, incident_id, now, "sent"))
                    continue
                address = (p["email"] if ch == "email" else p["webhook_url"]) if p else None
                if not (wanted and awake and address and ch in self.channels):
                    continue
                rows.append(self._row(user_id, ch, address, subject, body, priority, incident_id, now, "pending"))
        if rows:
            conn.execute(insert(_N), rows)
            self._wake.set()
        return len(rows)

    @staticmethod
    def _row(user_id, channel, address, subject, body, priority, incident_id, now, status) -> dict:
        return {"key": uuid.uuid4().hex, "user_id": user_id, "channel": channel, "address": address,
                "incident_id": incident_id, "priority": priority, "subject": subject[:300], "body": body[:4000],
                "created_at": now, "status": status, "attempts": 0, "next_attempt_at": now,
                "sent_at": now if status == "sent" else None}

    # -- dispatching ------------------------------------------------------------------------------------
    @contextmanager
    def together(self) -> Iterator[None]:
        """Notices queued inside the block are dispatched only after it: the dispatcher, woken by
        the first of them (or by its timer), would otherwise send it alone before the rest were
        committed, and an escalation with the tasks that climb with it would reach a person as
        several messages instead of one summary."""
        with self._gate:
            yield

    def dispatch(self) -> int:
        """One pass over the due messages; returns how many deliveries were attempted."""
        with self._dispatching:
            return self._dispatch()

    def _dispatch(self) -> int:
        window = int(self.policy.window_s * US)
        with self._gate, self.engine.connect() as conn:  # only the reading waits; sending never holds it
            now = self.clock.now_us()  # read after the wait: what was queued meanwhile is due too
            due = conn.execute(select(_N).where(_N.c.status == "pending", _N.c.next_attempt_at <= now)
                               .order_by(_N.c.id)).mappings().all()
        groups: dict[tuple, list] = {}
        for r in due:
            groups.setdefault((r["user_id"], r["channel"], r["address"]), []).append(r)
        attempts = 0
        for (user_id, channel, address), rows in groups.items():
            retries = [r for r in rows if r["attempts"] > 0]
            fresh = [r for r in rows if r["attempts"] == 0]
            for r in retries:
                self._send(r, now)
                attempts += 1
            if not fresh:
                continue
            with self.engine.connect() as conn:
                recent = conn.scalar(select(func.count()).select_from(_N).where(
                    _N.c.user_id == user_id, _N.c.channel == channel, _N.c.address == address,
                    _N.c.status.in_(("sent", "failed")), _N.c.attempts > 0, _N.c.sent_at > now - window)) or 0
                if recent >= self.policy.max_per_window:
                    # over the limit: wait for the window to move on, then go out as one summary
                    first = conn.scalar(select(func.min(_N.c.sent_at)).where(
                        _N.c.user_id == user_id, _N.c.channel == channel, _N.c.address == address,
                        _N.c.status.in_(("sent", "failed")), _N.c.attempts > 0, _N.c.sent_at > now - window))
                    wait = (first or now) + window
                    with self.engine.begin() as tx:
                        tx.execute(update(_N).where(_N.c.id.in_([r["id"] for r in fresh]))
                                   .values(next_attempt_at=wait))
                    continue
            if len(fresh) == 1:
                self._send(fresh[0], now)
            else:
                self._send(self._summary(fresh, now), now)
            attempts += 1
        return attempts

    def _summary(self, rows: list, now: int) -> dict:
        """Fold several waiting messages into one; each keeps its row, marked as grouped into it."""
        top = max(r["priority"] for r in rows)
        incidents = sorted({r["incident_id"] for r in rows if r["incident_id"] is not None})
        subject = f"{len(rows)} notifications" + (f" (incidents {', '.join(f'#{i}' for i in incidents)})"
                                                  if incidents else "")
        body = "\n".join(f"{iso(r['created_at'], 'seconds')} {r['subject']}" for r in rows)
        row = self._row(rows[0]["user_id"], rows[0]["channel"], rows[0]["address"], subject, body, top,
                        incidents[0] if len(incidents) == 1 else None, now, "pending")
        with self.engine.begin() as conn:
            new_id = conn.execute(insert(_N).values(**row).returning(_N.c.id)).scalar_one()
            conn.execute(update(_N).where(_N.c.id.in_([r["id"] for r in rows]))
                         .values(status="grouped", group_id=new_id))
            return dict(conn.execute(select(_N).where(_N.c.id == new_id)).mappings().one())

    def _message(self, r) -> Message:
        with self.engine.connect() as conn:  # a summary carries what it folded
            items = [{"id": i["key"], "subject": i["subject"], "body": i["body"],
                      "priority": Priority(i["priority"]).label, "incident": i["incident_id"],
                      "created_at": iso(i["created_at"], "seconds")}
                     for i in conn.execute(select(_N).where(_N.c.group_id == r["id"]).order_by(_N.c.id)).mappings()]
        return Message(r["key"], r["subject"], r["body"], Priority(r["priority"]).label, r["incident_id"],
                       iso(r["created_at"], "seconds") or "", items)

    def _send(self, r, now: int) -> None:
        channel = self.channels.get(r["channel"])
        attempt = r["attempts"] + 1
        try:
            if channel is None:
                raise SendError(f"channel {r['channel']!r} is not configured on this server")
            detail, ok = channel.send(r["address"], self._message(r)), True
        except SendError as e:
            detail, ok = str(e), False
        except Exception as e:  # a channel's bug must not stop the dispatcher
            log.exception("channel %s failed", r["channel"])
            detail, ok = f"{type(e).__name__}: {e}", False
        if ok:
            values = {"status": "sent", "sent_at": now}
        elif attempt >= self.policy.retries:
            values = {"status": "failed", "sent_at": now}
        else:
            values = {"next_attempt_at": now + int(self.policy.backoff_s * US * 2 ** (attempt - 1))}
        with self.engine.begin() as conn:
            conn.execute(update(_N).where(_N.c.id == r["id"]).values(attempts=attempt, **values))
            conn.execute(insert(_D).values(notification_id=r["id"], attempt=attempt, at=now, ok=ok,
                                           detail=detail[:500]))

    # -- the dispatcher thread --------------------------------------------------------------------------
    def start(self, interval_s: float = 1.0) -> None:
        def run() -> None:
            while not self._stop.is_set():
                try:
                    self.dispatch()
                except Exception:
                    log.exception("notification dispatch failed")
                self._wake.wait(interval_s)
                self._wake.clear()

        self._stop.clear()
        self._thread = threading.Thread(target=run, name="hazwatch-notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    # -- reading ------------------------------------------------------------------------------------------
    def for_incident(self, incident_id: int) -> list[dict]:
        """Every message about an incident, with its delivery log."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(_N).where(_N.c.incident_id == incident_id).order_by(_N.c.id)).mappings().all()
            log_ = {}
            ids = [r["id"] for r in rows]
            if ids:
                for d in conn.execute(select(_D).where(_D.c.notification_id.in_(ids)).order_by(_D.c.id)).mappings():
                    log_.setdefault(d["notification_id"], []).append(
                        {"attempt": d["attempt"], "at": iso(d["at"], "seconds"), "ok": d["ok"], "detail": d["detail"]})
        return [public(r) | {"deliveries": log_.get(r["id"], [])} for r in rows]

    def inbox(self, user_id: int, unread: bool, limit: int = 200) -> list[dict]:
        q = select(_N).where(_N.c.user_id == user_id, _N.c.channel == "in_app")
        if unread:
            q = q.where(_N.c.read_at.is_(None))
        with self.engine.connect() as conn:
            return [public(r) for r in conn.execute(q.order_by(_N.c.id.desc()).limit(limit)).mappings()]

    def mark_read(self, user_id: int, notification_id: int) -> dict:
        now = self.clock.now_us()
        with self.engine.begin() as conn:
            conn.execute(update(_N).where(_N.c.id == notification_id, _N.c.user_id == user_id,
                                          _N.c.channel == "in_app", _N.c.read_at.is_(None)).values(read_at=now))
            r = conn.execute(select(_N).where(_N.c.id == notification_id, _N.c.user_id == user_id,
                                              _N.c.channel == "in_app")).mappings().first()
        if r is None:  # another user's reads as one that does not exist
            raise NotFound(f"notification {notification_id} not found")
        return public(r)

    def prefs(self, user_id: int) -> dict:
        with self.engine.connect() as conn:
            r = conn.execute(select(_P).where(_P.c.user_id == user_id)).mappings().first()
        if r is None:
            return {"channels": DEFAULT_CHANNELS, "email": None, "webhook_url": None, "hours": None,
                    "min_priority": "low"}
        return {k: r[k] for k in ("channels", "email", "webhook_url", "hours", "min_priority")}

    def set_prefs(self, user_id: int, prefs: dict) -> dict:
        if prefs.get("webhook_url"):  # checked again at each delivery: a name may resolve elsewhere later
            check_url(prefs["webhook_url"], self.outbound)
        with self.engine.begin() as conn:
            if conn.scalar(select(_P.c.user_id).where(_P.c.user_id == user_id)) is None:
                conn.execute(insert(_P).values(user_id=user_id, **prefs))
            else:
                conn.execute(update(_P).where(_P.c.user_id == user_id).values(**prefs))
        return self.prefs(user_id)


def _shown(channel: str, address: str | None) -> str | None:
    """A webhook URL often carries its receiver's secret in the path or query: only its origin is shown."""
    if channel != "webhook" or not address:
        return address
    u = urlsplit(address)
    return f"{u.scheme}://{u.netloc}/…"


def public(r) -> dict:
    return {"id": r["id"], "key": r["key"], "channel": r["channel"], "address": _shown(r["channel"], r["address"]),
            "incident": r["incident_id"], "priority": Priority(r["priority"]).label, "subject": r["subject"],
            "body": r["body"], "created_at": iso(r["created_at"], "seconds"), "status": r["status"],
            "attempts": r["attempts"],
            "sent_at": iso(r["sent_at"], "seconds"), "group": r["group_id"], "read_at": iso(r["read_at"], "seconds")}


Recipients = Callable[[str, int], list[tuple[int, str]]]  # (role, org id) -> [(user id, name)]


@dataclass(frozen=True)
class Inbox:
    """One user's in-app notifications and delivery preferences (only ever the caller's own)."""

    notifier: Notifier
    user_id: int

    def list(self, unread: bool) -> list[dict]:
        return self.notifier.inbox(self.user_id, unread)

    def mark_read(self, notification_id: int) -> dict:
        return self.notifier.mark_read(self.user_id, notification_id)

    def prefs(self) -> dict:
        return self.notifier.prefs(self.user_id)

    def set_prefs(self, prefs: dict) -> dict:
        return self.notifier.set_prefs(self.user_id, prefs)
