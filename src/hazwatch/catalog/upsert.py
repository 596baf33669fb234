"""Writing one section of a catalog document: every item of the section read, added and changed
with a few statements (one SELECT per 900 codes, one multi-row INSERT, one executemany UPDATE), at
the driver's level rather than one ORM object per item, so a document of ten thousand items is
applied (or refused) in about a second."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

_CHUNK = 900  # bound parameters per IN list: below SQLite's oldest limit


@dataclass
class ApplySummary:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    revision: int = 0
    on_change: Callable | None = field(default=None, repr=False)


def audit_row(row: dict) -> dict:
    """An item as the audit log keeps it; a unit's model (tens of kilobytes of numbers) is kept as
    its method, threshold and digest, which still shows that and when it changed."""
    row = dict(row)
    if isinstance(row.get("model"), dict):
        m = row["model"]
        digest = hashlib.sha256(json.dumps(m, sort_keys=True).encode()).hexdigest()
        row["model"] = {"method": m.get("method"), "threshold": m.get("threshold"), "sha256": digest}
    return row


def _read(session: Session, t, key: str, keys: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for n in range(0, len(keys), _CHUNK):
        out.update({r[key]: dict(r) for r in session.execute(select(t).where(t.c[key].in_(keys[n:n + _CHUNK])))
                    .mappings()})
    return out


def _update(session: Session, t, changes: list[tuple[int, dict]]) -> None:
    """One executemany per set of changed columns."""
    groups: dict[tuple[str, ...], list[dict]] = {}
    for row_id, values in changes:
        params = {"_id": row_id, **{f"_v_{c}": v for c, v in values.items()}}
        groups.setdefault(tuple(sorted(values)), []).append(params)
    for cols, params in groups.items():
        session.execute(update(t).where(t.c.id == bindparam("_id")).values({c: bindparam(f"_v_{c}") for c in cols})
                        .execution_options(synchronize_session=False), params)


def upsert_all(session: Session, model, key: str, rows: list[tuple[str, dict]], summary: ApplySummary,
               name: str, then: Callable[[dict[str, int]], dict[str, dict]] | None = None) -> dict[str, int]:
    """Create or update the section's items (key value, fields) and return their ids by key.
    `then(ids)`, once new items have their ids, gives further field values by key (an org's parent
    that the same document creates); the counts and `on_change` see the final rows."""
    if not rows:
        return {}
    t = model.__table__
    found = _read(session, t, key, [k for k, _ in rows])
    ids = {k: r["id"] for k, r in found.items()}
    new = [{key: k, **f} for k, f in rows if k not in found]
    if new:
        for row_id, k in session.execute(insert(t).returning(t.c.id, t.c[key], sort_by_parameter_order=True), new):
            ids[k] = row_id
    after = {k: (found[k] | f) if k in found else {"id": ids[k], key: k, **f} for k, f in rows}
    changes = [(ids[k], {c: v for c, v in f.items() if found[k].get(c) != v}) for k, f in rows if k in found]
    extra = then(ids) if then is not None else {}
    for k, values in extra.items():
        moved = {c: v for c, v in values.items() if after[k].get(c) != v}
        if moved:
            changes.append((ids[k], moved))
            after[k] = after[k] | moved
    _update(session, t, [(i, v) for i, v in changes if v])
    if summary.on_change is not None and new:  # the audit log shows created items with their defaults
        after |= {k: r for k, r in _read(session, t, key, [r[key] for r in new]).items()}
    for k, _ in rows:
        before = found.get(k)
        counter = summary.created if before is None else summary.updated
        if before == after[k]:
            counter = summary.unchanged
        elif summary.on_change is not None:
            summary.on_change(session, name, k, None if before is None else audit_row(before), audit_row(after[k]))
        counter[name] = counter.get(name, 0) + 1
    return ids
