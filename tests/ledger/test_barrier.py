"""On PostgreSQL a row with a lower id can commit after a higher one; the sealer must not pass it."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from hazwatch.auth.audit import Actor, AuditLog
from hazwatch.auth.models import AuditEntry
from hazwatch.ledger.models import LedgerRecord
from tests.conftest import build_services, make_settings


def test_a_row_that_commits_late_is_still_sealed(tmp_path, pg_database):
    services = build_services(make_settings(tmp_path, database_url=pg_database, ledger_enabled=True,
                                            ledger_interval_s=3600))
    ledger, engine = services.ledger, services.engine
    ledger.integrate()
    who = Actor("tester", "admin")
    slow = engine.connect()
    tx = slow.begin()
    AuditLog.record(slow, who, "test.slow", "thing", 1, None)  # takes the lower id, commits last
    with engine.begin() as conn:
        AuditLog.record(conn, who, "test.fast", "thing", 2, None)
    done = threading.Event()
    sealer = threading.Thread(target=lambda: (ledger.integrate(), done.set()))
    sealer.start()
    time.sleep(0.5)
    assert not done.is_set(), "the sealer read past a transaction still in flight"
    tx.commit()
    slow.close()
    sealer.join(10)
    assert done.is_set()
    with engine.connect() as conn:
        ids = set(conn.execute(select(AuditEntry.id).where(AuditEntry.action.like("test.%"))).scalars())
        sealed = set(conn.execute(select(LedgerRecord.row).where(LedgerRecord.tbl == "audit_log")).scalars())
    assert len(ids) == 2 and ids <= sealed
