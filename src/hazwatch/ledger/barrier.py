"""Commit order for the sealer on PostgreSQL.

The ledger seals the append-only tables by reading them in id order. On PostgreSQL, ids come from
sequences when a row is inserted, not when its transaction commits: with several writers (API
threads, the incident desk, workers) a row with a lower id can become visible after a higher one
that the sealer already passed, and would never be sealed.

The barrier: every transaction that inserts into a sealed table first takes a shared advisory
lock, held until it ends; the sealer takes the same lock exclusively for an instant, reads the
highest id of each table, and lets go. When it holds the lock, every transaction that had
inserted has ended, and every id handed out later is higher; so no row at or below those ids can
still appear, and the sealer reads only up to them. Writers wait only for that instant (and the
sealer for the writers in flight). SQLite needs none of this: it runs one write transaction at a
time, so ids commit in order.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, Engine, event, func, select, text

from hazwatch.db import Base

LOCK = 7402
_INSERT = re.compile(r"\s*INSERT\s+INTO\s+\"?(\w+)\"?", re.IGNORECASE)


def install(engine: Engine, tables: frozenset[str]) -> None:
    """Make every insert into `tables` on this engine take the barrier's shared lock first
    (PostgreSQL only; every node's engine, whether or not it runs the ledger)."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "before_cursor_execute")
    def _shared(conn, cursor, statement, parameters, context, executemany) -> None:
        m = _INSERT.match(statement)
        if m and m.group(1) in tables:
            cursor.execute(f"SELECT pg_advisory_xact_lock_shared({LOCK})")


def high_water(engine: Engine, tables: list[str]) -> dict[str, int] | None:
    """The highest committed id of each table, below which no row can still appear; None on
    SQLite (read to the end)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.begin() as conn:
        conn.execute(text(f"SELECT pg_advisory_xact_lock({LOCK})"))
        return {t: _max_id(conn, t) for t in tables}


def _max_id(conn: Connection, table: str) -> int:
    t = Base.metadata.tables[table]
    return int(conn.scalar(select(func.coalesce(func.max(t.c.id), 0))))
