"""Which stored entry each leaf of the log is.

The log's leaves are public entries (commitments where the entry names a tenant); the entries
themselves sit in `ledger_entries`, in the order `ledger_batches` sealed them. The ledger serving
one record and the offline verifier opening every commitment both read that mapping here, so the
two cannot come to disagree about which entry a leaf stands for.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, func, select

from hazwatch.ledger.models import LedgerBatch, LedgerEntry

_B, _E = LedgerBatch.__table__, LedgerEntry.__table__


def entry_bodies(conn: Connection, start: int, stop: int) -> Iterator[tuple[int, bytes]]:
    """(leaf index, stored entry) for each sealed leaf in [start, stop), in leaf order."""
    first = conn.scalar(select(func.max(_B.c.first_idx)).where(_B.c.first_idx <= start))
    query = select(_B).where(_B.c.first_idx < stop).order_by(_B.c.first_idx)
    if first is not None:
        query = query.where(_B.c.first_idx >= first)
    for b in conn.execute(query).mappings().all():
        lo, hi = max(start, b["first_idx"]), min(stop, b["first_idx"] + b["count"])
        if lo >= hi:
            continue
        bodies = conn.execute(select(_E.c.body).where(_E.c.id >= b["first_id"], _E.c.id <= b["last_id"])
                              .order_by(_E.c.id).offset(lo - b["first_idx"]).limit(hi - lo)).scalars()
        for k, body in enumerate(bodies):
            yield lo + k, bytes(body)
