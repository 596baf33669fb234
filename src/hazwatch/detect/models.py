"""Checkpointed limit state, one row per sensor; written in the same transaction as the alarm
transitions it produced, so a restart resumes exactly where the alarms left off."""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Integer
from sqlalchemy.orm import Mapped, mapped_column

from hazwatch.db import Base


class LimitStateRow(Base):
    __tablename__ = "limit_state"
    sensor_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    raw_bits: Mapped[int] = mapped_column(Integer)
    active_bits: Mapped[int] = mapped_column(Integer)
    since_ll: Mapped[int] = mapped_column(BigInteger)
    since_l: Mapped[int] = mapped_column(BigInteger)
    since_h: Mapped[int] = mapped_column(BigInteger)
    since_hh: Mapped[int] = mapped_column(BigInteger)
    last_ts: Mapped[int] = mapped_column(BigInteger)
    last_value: Mapped[float | None] = mapped_column(Float, nullable=True)
