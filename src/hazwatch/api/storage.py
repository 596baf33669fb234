"""What a request hears when the storage under the server fails: the database unreachable (503,
try again shortly) or the data directory's disk full (507, free space first). Either way nothing of
that request was stored: the writer refuses a batch whole when its store append fails, and a
relational transaction that fails rolls back. The answer says so, so a client or gateway knows
to send the same data again rather than wonder whether it is in."""

from __future__ import annotations

import errno

import duckdb
import psycopg
import sqlalchemy.exc

from hazwatch.api.responses import JSON

RETRY_DB_S = 5  # a database restart or a failover takes seconds
RETRY_DISK_S = 30  # space comes back when someone frees it

FAILURES = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, psycopg.OperationalError,
            psycopg.InterfaceError, duckdb.IOException, OSError)


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    return (str(inner).strip().splitlines() or [type(inner).__name__])[0]


def disk_full(exc: BaseException) -> bool:
    inner = getattr(exc, "orig", None) or exc
    if isinstance(inner, OSError) and inner.errno == errno.ENOSPC:
        return True
    text = str(inner).lower()
    return "no space left" in text or "disk is full" in text or "disk full" in text


def answer(exc: BaseException) -> JSON | None:
    """The answer for a storage failure; None for anything else (an OSError of another kind)."""
    if disk_full(exc):
        return JSON({"detail": f"the data directory's disk is full ({_reason(exc)}); nothing in this request was "
                               "stored: free space, then send it again"},
                    status_code=507, headers={"Retry-After": str(RETRY_DISK_S)})
    if isinstance(exc, OSError) and not isinstance(exc, (psycopg.Error, duckdb.Error)):
        return None
    return JSON({"detail": f"the database is unavailable ({_reason(exc)}); nothing in this request was stored: "
                           "send it again"},
                status_code=503, headers={"Retry-After": str(RETRY_DB_S)})
