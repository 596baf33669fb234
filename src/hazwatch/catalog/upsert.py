"""Writing one section of a catalog document: every item of the section read, changed or added,
and flushed together. A document of ten thousand items costs a few statements per section, not a
query and a flush per item, so a large catalog is applied (or refused) in seconds."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

_CHUNK = 900  # bound parameters per IN list: below SQLite's oldest limit


@dataclass
class ApplySummary:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    revision: int = 0
    on_change: Callable | None = field(default=None, repr=False)


def row_of(obj) -> dict:
    """An item as the audit log keeps it; a unit's model (tens of kilobytes of numbers) is kept as
    its method, threshold and digest, which still shows that and when it changed."""
    row = {c.key: getattr(obj, c.key) for c in obj.__table__.columns}
    if isinstance(row.get("model"), dict):
        m = row["model"]
        digest = hashlib.sha256(json.dumps(m, sort_keys=True).encode()).hexdigest()
        row["model"] = {"method": m.get("method"), "threshold": m.get("threshold"), "sha256": digest}
    return row


def upsert_all(session: Session, model, key: str, rows: list[tuple[str, dict]], summary: ApplySummary,
               name: str, then: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Create or update the section's items (key value, fields) and return them by key. `then(objs)`
    runs after the first flush, when new items have their ids, to set what refers to them (an
    org's parent that the same document creates); the counts and `on_change` see the final rows."""
    col = getattr(model, key)
    keys = [k for k, _ in rows]
    found: dict[str, Any] = {}
    for n in range(0, len(keys), _CHUNK):
        found.update({getattr(o, key): o for o in session.scalars(select(model).where(col.in_(keys[n:n + _CHUNK])))})
    done = []
    for value, fields in rows:
        obj = found.get(value)
        before = None
        if obj is None:
            obj = found[value] = model(**{key: value}, **fields)
            session.add(obj)
        else:
            before = row_of(obj)
            for k, v in fields.items():
                setattr(obj, k, v)
        done.append((value, obj, before))
    session.flush()
    if then is not None:
        then(found)
        session.flush()
    for value, obj, before in done:
        counter = summary.created if before is None else summary.updated
        after = row_of(obj)
        if before == after:
            counter = summary.unchanged
        elif summary.on_change is not None:
            summary.on_change(session, name, value, before, after)
        counter[name] = counter.get(name, 0) + 1
    return found
