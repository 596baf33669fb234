"""What the ledger seals, as RFC 8785 JSON entries.

Records stay in their own tables and the readings in the telemetry store; an entry carries the
SHA-256 of the record's canonical form (or of a window's readings), so the entry is small, the
data is not duplicated, and any later change to the data no longer matches its entry. Every entry
names its kind and subject; `prev` is the leaf hash of the previous entry of the same subject (an
alarm's acknowledgement points at the entry of its raise), so each subject's history is a hash
chain inside the log.

Readings encoding `hazwatch-readings/1`: for each reading of one sensor in one window, in time
order, the big-endian int64 time (µs since the epoch), big-endian IEEE-754 float64 value and the
quality byte, concatenated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from hazwatch.domain.batch import ReadingBatch
from hazwatch.ledger.canonical import canonical

VERSION = 1
READINGS_ENCODING = "hazwatch-readings/1"
_READING = np.dtype([("t", ">i8"), ("v", ">f8"), ("q", "u1")])


@dataclass(frozen=True)
class Sealed:
    """How the rows of one append-only table become entries."""

    table: str
    kind: Callable[[dict], str]
    subject: Callable[[dict], str]
    what: str  # the column that says what happened


SEALED = {s.table: s for s in (
    Sealed("alarm_journal", lambda r: "alarm", lambda r: f"alarm/{r['alarm_id']}", "event"),
    Sealed("incident_events", lambda r: "interlock" if r["kind"].startswith("interlock") else "incident",
           lambda r: f"incident/{r['incident_id']}", "kind"),
    Sealed("audit_log", lambda r: "catalog" if r["action"].startswith("catalog.") else "audit",
           lambda r: f"{r['object_type']}/{r['object_id']}", "action"),
)}


def record_digest(row: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(row)).hexdigest()


def record_entry(table: str, row: dict[str, Any], prev: str | None) -> tuple[str, bytes]:
    """(subject, entry bytes) for one row of a sealed table."""
    s = SEALED[table]
    subject = s.subject(row)
    e = {"v": VERSION, "kind": s.kind(row), "subject": subject, "table": table, "row": row["id"],
         "ts": row.get("ts"), "what": row.get(s.what), "sha256": record_digest(row)}
    if prev:
        e["prev"] = prev
    return subject, canonical(e)


def readings_digest(ts: np.ndarray, value: np.ndarray, quality: np.ndarray) -> str:
    rec = np.empty(len(ts), _READING)
    rec["t"], rec["v"], rec["q"] = ts, value, quality
    return hashlib.sha256(rec.tobytes()).hexdigest()


def window_digests(batch: ReadingBatch) -> list[tuple[int, int, str, int, int]]:
    """(sensor, count, sha256, first index, end index) per sensor of a batch ordered by (sensor, ts)."""
    if not len(batch):
        return []
    s = batch.sensor
    cuts = np.flatnonzero(np.diff(s)) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [len(s)]))
    ts, v, q = batch.ts, batch.value, batch.quality
    return [(int(s[a]), int(b - a), readings_digest(ts[a:b], v[a:b], q[a:b]), int(a), int(b))
            for a, b in zip(starts, ends, strict=True)]


def telemetry_entry(sensor: int, start: int, end: int, count: int, digest: str, prev: str | None) -> bytes:
    """Integers and ASCII strings only, so orjson with sorted keys is already RFC 8785 (the tests
    hold it to the reference): the sealer writes one of these per sensor and window."""
    e = {"v": VERSION, "kind": "telemetry", "subject": f"sensor/{int(sensor)}", "window": [int(start), int(end)],
         "count": int(count), "encoding": READINGS_ENCODING, "sha256": digest}
    if prev:
        e["prev"] = prev
    return orjson.dumps(e, option=orjson.OPT_SORT_KEYS)
