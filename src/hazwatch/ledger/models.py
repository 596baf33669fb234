"""The ledger's relational state. The log itself (entries and tree) lives in tile files; these
tables hold what is waiting to be logged, where each sealed record sits in the log, and every
checkpoint the log has signed (so it can never sign another root for a size it signed before)."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hazwatch.db import Base

_ID = BigInteger().with_variant(Integer, "sqlite")


class LedgerEntry(Base):
    """Every entry, durable from the moment it is appended. Entries are integrated into the tree in
    id order; the tile files are rebuilt from this table if they are ever lost."""

    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerBatch(Base):
    """One integration: entries first_id..last_id (ids may have gaps) became leaves first_idx on."""

    __tablename__ = "ledger_batches"
    first_idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    first_id: Mapped[int] = mapped_column(BigInteger, index=True)
    last_id: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)


class LedgerState(Base):
    """One row: the integrated tree and how far each sealed table and the telemetry have been read."""

    __tablename__ = "ledger_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    last_id: Mapped[int] = mapped_column(BigInteger)  # the last entry integrated
    root: Mapped[str] = mapped_column(String(64))  # hex
    marks: Mapped[dict] = mapped_column(JSON)  # {table: last row id sealed}
    sealed_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # telemetry windows before this
    # entries from this id on are published as salted commitments (ledger/commit.py); a log begun
    # before format 2 keeps its earlier leaves as they were
    commit_from: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class LedgerHead(Base):
    """The newest entry of each subject (alarm/12, incident/3, ...): the next one links to it."""

    __tablename__ = "ledger_heads"
    subject: Mapped[str] = mapped_column(String(160), primary_key=True)
    leaf: Mapped[str] = mapped_column(String(64))  # hex leaf hash: entries link by content, not position


class LedgerRecord(Base):
    """Which entry seals each row of a sealed table."""

    __tablename__ = "ledger_records"
    tbl: Mapped[str] = mapped_column(String(40), primary_key=True)
    row: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger)


class LedgerSeal(Base):
    """The latest entry sealing one sensor's readings in one window (late readings re-seal it)."""

    __tablename__ = "ledger_seals"
    sensor_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)


class LedgerCheckpoint(Base):
    """Every checkpoint the log signed; `cosigned` is the note as published, with its witnesses."""

    __tablename__ = "ledger_checkpoints"
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    root: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text)
    cosigned: Mapped[str | None] = mapped_column(Text, nullable=True)
    published_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class LedgerWitness(Base):
    """The size each witness last cosigned for this log, as the log knows it."""

    __tablename__ = "ledger_witnesses"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
