"""PostgreSQL unreachable for 30 s under a steady load: the server answers 503 with Retry-After
(nothing of those requests stored), loses nothing it acknowledged, and carries on by itself once
the database is back."""

from __future__ import annotations

import time

import psycopg
import pytest

from tests.conftest import DATA, eventually
from tests.faults.conftest import Sender
from tests.scale.conftest import Link, prepare, start_node, wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.services]
OUTAGE_S = 30


def test_thirty_seconds_without_postgresql(pg_database, tmp_path, record_property):
    prepare(pg_database, tmp_path, DATA / "catalog.yaml")
    link = Link(5432)  # the network between the server and PostgreSQL, which the test cuts
    link.restore()
    via_link = pg_database.replace(":5432/", f":{link.port}/")
    node = start_node("all", "server", tmp_path, {"HAZWATCH_DATABASE_URL": via_link})
    sender = None
    try:
        wait_ready([node])
        sender = Sender(node.base, ["GT1", "GT2", "TK1-LT"])
        sender.start()
        assert eventually(lambda: len(sender.accepted) >= 500, 20), sender.answers[-3:]

        link.cut()
        cut_at = time.time()
        time.sleep(OUTAGE_S)
        during = [a for a in sender.answers if a[0] > cut_at + 5]
        link.restore()
        restored_at = time.time()
        before = len(sender.accepted)
        assert eventually(lambda: len(sender.accepted) >= before + 500, 60), sender.answers[-3:]
        sender.stop()
    finally:
        if sender is not None:
            sender.stop()
        node.stop()
        link.cut()

    # during the outage: refused with a retry hint, never a 500 and never a hang
    assert set(sender.statuses()) <= {200, 503}, {a[1]: a[3] for a in sender.answers if a[1] not in (200, 503)}
    assert during, "no answers during the outage"
    assert all(a[1] == 503 for a in during), {a[1]: a[3] for a in during}
    assert all(int(a[2]["retry-after"]) >= 1 for a in during)
    assert all("database" in a[3]["detail"] for a in during), during[0][3]
    # back to normal by itself, within seconds of the database's return
    first_ok = min(a[0] for a in sender.answers if a[1] == 200 and a[0] > restored_at)
    assert first_ok - restored_at < 15
    # every acknowledged reading stored exactly once, nothing else stored
    with psycopg.connect(pg_database) as con:
        stored = con.execute("SELECT count(*), count(DISTINCT (sensor, ts)) FROM readings").fetchone()
    for k, v in (("acknowledged", len(sender.accepted)), ("stored", stored[0]), ("distinct", stored[1]),
                 ("refused (503)", sum(a[1] == 503 for a in sender.answers)),
                 ("back after (s)", round(first_ok - restored_at, 1))):
        record_property(k, v)
    assert stored == (len(sender.accepted), len(sender.accepted))
