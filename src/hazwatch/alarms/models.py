"""Alarm points (one per sensor and condition) and their append-only journal."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hazwatch.db import Base


class Alarm(Base):
    """A sensor's process alarm (LL/L/H/HH) or sensor-fault alarm, or a device's communication-loss
    alarm (COMM), a unit's multivariate anomaly alarm (ANOM) or a compound rule's alarm (RULE): exactly
    one of sensor_id, device_id, unit_id and rule_id is set."""

    __tablename__ = "alarms"
    __table_args__ = (UniqueConstraint("sensor_id", "condition"), UniqueConstraint("device_id", "condition"),
                      UniqueConstraint("unit_id", "condition"), UniqueConstraint("rule_id", "condition"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sensor_id: Mapped[int | None] = mapped_column(ForeignKey("sensors.id"), nullable=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), nullable=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id"), nullable=True)
    condition: Mapped[str] = mapped_column(String(8))
    priority: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=True)
    shelved_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False)
    out_of_service: Mapped[bool] = mapped_column(Boolean, default=False)
    raised_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cleared_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    changed_at: Mapped[int] = mapped_column(BigInteger)
    suppressed_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    suppression: Mapped[str | None] = mapped_column(String(20), nullable=True)  # operator | chatter | state
    chattering: Mapped[bool] = mapped_column(Boolean, default=False)
    first_out_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the alarm that stands for this one


class AlarmFlood(Base):
    """A flood in one area (an enterprise's console): more alarms in the window than one can handle."""

    __tablename__ = "alarm_floods"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    started_at: Mapped[int] = mapped_column(BigInteger)
    ended_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    alarms: Mapped[int] = mapped_column(Integer)  # raised during the flood
    peak: Mapped[int] = mapped_column(Integer)  # most alarms within one window


class AlarmJournal(Base):
    """Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "alarm_journal"
    # by alarm (an alarm's journal), and by time (KPIs and reports over a period)
    __table_args__ = (Index("ix_alarm_journal_alarm", "alarm_id", "id"), Index("ix_alarm_journal_ts", "ts"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"))
    ts: Mapped[int] = mapped_column(BigInteger)  # when it happened (reading time for process events)
    recorded_at: Mapped[int] = mapped_column(BigInteger)
    event: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    state: Mapped[str] = mapped_column(String(30))  # the alarm's state after the event
