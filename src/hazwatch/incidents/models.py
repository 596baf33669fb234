"""Incidents, their timeline, tasks, reporting clocks and interlock writes; notifications and
their delivery log. Times are epoch microseconds, like every other table."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hazwatch.db import Base


class Incident(Base):
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))  # the enterprise (or the org of a hand-opened one)
    hazard_source_id: Mapped[int | None] = mapped_column(ForeignKey("hazard_sources.id"), nullable=True)
    location: Mapped[str | None] = mapped_column(String(64), nullable=True)  # hazard source or device code
    hazard_type: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(20))  # reported|assessing|responding|contained|closed|cancelled
    priority: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str | None] = mapped_column(String(64), nullable=True)  # code of the trigger, None by hand
    plans: Mapped[list] = mapped_column(JSON)  # plan codes whose steps became tasks
    tiers: Mapped[list] = mapped_column(JSON)  # the escalation ladder: [{name, role, minutes}]
    tier: Mapped[int] = mapped_column(Integer, default=0)  # the tier called now
    escalate_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None once acknowledged or ended
    opened_at: Mapped[int] = mapped_column(BigInteger)
    opened_by: Mapped[str] = mapped_column(String(100))
    acknowledged_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    ended_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # closed or cancelled


class IncidentAlarm(Base):
    """One activation of an alarm (alarm id and the time it was raised) belongs to one incident."""

    __tablename__ = "incident_alarms"
    __table_args__ = (UniqueConstraint("alarm_id", "raised_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"))
    raised_at: Mapped[int] = mapped_column(BigInteger)
    joined_at: Mapped[int] = mapped_column(BigInteger)


class IncidentEvent(Base):
    """The timeline: append-only, every state change, action, notification and write."""

    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident", "incident_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    ts: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(String(2000))


class IncidentTask(Base):
    __tablename__ = "incident_tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    plan: Mapped[str | None] = mapped_column(String(64), nullable=True)
    title: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(20))  # open|acknowledged|done|cancelled
    due_at: Mapped[int] = mapped_column(BigInteger)
    tier: Mapped[int] = mapped_column(Integer, default=0)
    escalate_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    done_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    done_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class ReportClock(Base):
    """A regulatory reporting deadline: to the county within 1 hour, then each level within 2 hours."""

    __tablename__ = "report_clocks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    level: Mapped[str] = mapped_column(String(30))
    started_at: Mapped[int] = mapped_column(BigInteger)
    due_at: Mapped[int] = mapped_column(BigInteger)
    warned_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    overdue_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reported_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reported_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    stopped_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # the incident was cancelled


class Interlock(Base):
    """A write a plan step asked for: requested, confirmed (by one or two people), written, read back."""

    __tablename__ = "interlocks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("incident_tasks.id"), nullable=True)
    target: Mapped[str] = mapped_column(String(300))
    value: Mapped[float] = mapped_column(Float)
    second_person: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(20))  # requested|confirmed|written|mismatch|failed|cancelled
    requested_at: Mapped[int] = mapped_column(BigInteger)
    confirmed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    confirmed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    second_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    second_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    written_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    readback: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class Notification(Base):
    """One message to one recipient on one channel; `key` is its idempotency key on every attempt."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),
                      Index("ix_notifications_user", "user_id", "id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    channel: Mapped[str] = mapped_column(String(20))  # webhook|email|in_app
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), nullable=True)
    priority: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(String(4000))
    created_at: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))  # pending|sent|failed|grouped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    group_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the summary it went out in
    read_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # in-app: when the user read it


class Delivery(Base):
    """The delivery log: every attempt to send a notification, and what came of it."""

    __tablename__ = "notification_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[int] = mapped_column(BigInteger)
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(String(500))


class NotificationPrefs(Base):
    __tablename__ = "notification_prefs"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    channels: Mapped[list] = mapped_column(JSON)  # of webhook, email, in_app
    email: Mapped[str | None] = mapped_column(String(300), nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    hours: Mapped[str | None] = mapped_column(String(11), nullable=True)  # "08:00-20:00" local time; None = always
    min_priority: Mapped[str] = mapped_column(String(10), default="low")
