"""Risk points (LEC and matrix assessments) and the hidden-danger register with its history."""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hazwatch.db import Base


class RiskPoint(Base):
    """An assessed risk point of a hazard source or a location: its latest assessment."""

    __tablename__ = "risk_points"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    hazard_source_id: Mapped[int | None] = mapped_column(ForeignKey("hazard_sources.id"), nullable=True)
    location: Mapped[str | None] = mapped_column(String(200), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))  # lec | matrix
    l: Mapped[float] = mapped_column(Float)  # noqa: E741 - the method's own letter
    e: Mapped[float | None] = mapped_column(Float, nullable=True)  # LEC exposure
    c: Mapped[float | None] = mapped_column(Float, nullable=True)  # LEC consequence
    s: Mapped[int | None] = mapped_column(Integer, nullable=True)  # matrix severity
    value: Mapped[float] = mapped_column(Float)  # D or R
    colour: Mapped[str] = mapped_column(String(10))
    explanation: Mapped[str] = mapped_column(String(500))
    measures: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    assessed_by: Mapped[str] = mapped_column(String(100))
    assessed_at: Mapped[int] = mapped_column(BigInteger)


class HiddenDanger(Base):
    __tablename__ = "hidden_dangers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    hazard_source_id: Mapped[int | None] = mapped_column(ForeignKey("hazard_sources.id"), nullable=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(String(4000), nullable=True)
    grade: Mapped[str] = mapped_column(String(10))  # general | major
    found_by: Mapped[str] = mapped_column(String(20))  # daily, comprehensive, specialist, ...
    handling: Mapped[str] = mapped_column(String(20))  # on_the_spot | by_deadline
    state: Mapped[str] = mapped_column(String(30))
    responsible: Mapped[str | None] = mapped_column(String(100), nullable=True)
    deadline: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    measures: Mapped[str | None] = mapped_column(String(4000), nullable=True)
    funding: Mapped[float | None] = mapped_column(Float, nullable=True)  # yuan
    contingency_plan: Mapped[str | None] = mapped_column(String(4000), nullable=True)
    reported_by: Mapped[str] = mapped_column(String(100))
    reported_at: Mapped[int] = mapped_column(BigInteger)
    closed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    overdue_warned_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class HiddenDangerEvent(Base):
    """Append-only history of a hidden danger: every state change and edit, with actor and time."""

    __tablename__ = "hidden_danger_events"
    __table_args__ = (Index("ix_hidden_danger_events_hd", "hidden_danger_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hidden_danger_id: Mapped[int] = mapped_column(ForeignKey("hidden_dangers.id"))
    ts: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(String(2000))


class Report(Base):
    """A generated periodic report; its files lie in the data directory's reports/periodic/."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("org_id", "period", "lang"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # daily | weekly | monthly
    period: Mapped[str] = mapped_column(String(12))  # 2026-11-24 | 2026-W48 | 2026-11
    lang: Mapped[str] = mapped_column(String(5))
    start: Mapped[int] = mapped_column(BigInteger)
    end: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))  # file stem of its .html and .pdf
