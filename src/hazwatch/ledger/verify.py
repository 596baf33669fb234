"""Offline verification of a whole log, as a regulator runs it on a copy of the tile folder.

Checks, in order, and reports every failure with the first one named:
  1. the checkpoint: the log's signature and a quorum of witness cosignatures;
  2. every entry bundle hashes to the level-0 tiles, and the tree recomputed from the entries
     has the signed root (a changed, removed or reordered entry cannot pass);
  3. each entry is canonical JSON and its `prev` is an earlier entry of the same subject;
  4. older checkpoints (kept from earlier visits) are consistent with the current one;
  5. optionally, against the installation's database and telemetry store: every sealed row and
     every sealed window of readings still has the digest its entry logged, and no row was added
     to a sealed table without an entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from sqlalchemy import Engine, func, select

from hazwatch.domain.batch import ReadingBatch
from hazwatch.ledger.canonical import canonical
from hazwatch.ledger.commit import Committer, is_public_entry
from hazwatch.ledger.entries import SEALED, record_digest, window_digests
from hazwatch.ledger.merkle import ProofError, consistency_proof, leaf_hashes, verify_consistency
from hazwatch.ledger.note import Checkpoint, NoteError, Verifier, open_checkpoint
from hazwatch.ledger.tiles import WIDTH, MemoryTiles, TileError, TileTree, bundle_path, decode_bundle, tile_path


@dataclass(frozen=True, order=True)
class Failure:
    index: int  # the entry that fails (-1: the log as a whole)
    what: str

    def __str__(self) -> str:
        return (f"entry {self.index}: " if self.index >= 0 else "") + self.what


@dataclass
class Report:
    size: int = 0
    checkpoint: Checkpoint | None = None
    cosigners: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def first(self) -> Failure | None:
        entries = sorted(f for f in self.failures if f.index >= 0)
        return entries[0] if entries else (self.failures[0] if self.failures else None)

    def fail(self, index: int, what: str) -> None:
        self.failures.append(Failure(index, what))


class Data:
    """What a data check reads: the sealed tables and the telemetry store of an installation."""

    def __init__(self, engine: Engine, window: Callable[[int, int], ReadingBatch] | None,
                 committer: Committer | None = None) -> None:
        """The sealed tables as their modules declare them (the caller has loaded the models, as
        opening the database does), so rows read back exactly as they were sealed. `committer`
        (the installation's commitment key) opens the entries the public log holds as commitments."""
        from hazwatch.db import Base

        self.engine, self.window, self.tables = engine, window, Base.metadata.tables
        self.committer = committer

    def open(self, entries: list[bytes], report: Report) -> list[bytes]:
        """Each committed leaf replaced by the entry the entries table holds for it, once the entry
        is shown to be the one committed to; a leaf that cannot be opened stays (and fails)."""
        from hazwatch.ledger.leaves import entry_bodies

        out = list(entries)
        with self.engine.connect() as conn:
            for i, body in entry_bodies(conn, 0, len(entries)):
                if not is_public_entry(entries[i]):
                    continue
                if self.committer is None:
                    report.fail(i, "is a commitment, and the commitment key (commit.key) is not here to open it")
                    return out
                if self.committer.public(body) != entries[i]:
                    report.fail(i, "the entries table holds an entry that is not the one the log committed to")
                else:
                    out[i] = body
        report.checked["committed entries opened"] = sum(1 for a, b_ in zip(out, entries, strict=True) if a != b_)
        return out

    def rows(self, table: str, ids: list[int]) -> dict[int, dict]:
        t = self.tables[table]
        out: dict[int, dict] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                for r in conn.execute(select(t).where(t.c.id.in_(ids[i:i + 500]))).mappings():
                    out[r["id"]] = dict(r)
        return out

    def ids_upto(self, table: str, last: int) -> Iterator[int]:
        t = self.tables[table]
        with self.engine.connect() as conn:
            yield from conn.execute(select(t.c.id).where(t.c.id <= last).order_by(t.c.id)).scalars()

    def count_upto(self, table: str, last: int) -> int:
        t = self.tables[table]
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(t).where(t.c.id <= last)) or 0


def _entries(d: Path, size: int, tiles: TileTree, report: Report) -> list[bytes] | None:
    """Every entry, bundle by bundle; a bundle that lost or gained an entry is located against
    its level-0 tile."""
    out: list[bytes] = []
    for n in range((size + WIDTH - 1) // WIDTH):
        width = min(WIDTH, size - n * WIDTH)
        rel = bundle_path(n, width)
        try:
            bundle = decode_bundle((d / rel).read_bytes())
        except FileNotFoundError:
            report.fail(n * WIDTH, f"entry bundle {rel} is missing: entries {n * WIDTH}..{n * WIDTH + width - 1} "
                                   "cannot be checked")
            return None
        except TileError as e:
            report.fail(n * WIDTH, f"{rel}: {e}")
            return None
        if len(bundle) != width:
            try:
                leaves = tiles.tile(0, n)
            except TileError:
                leaves = []
            hashes = leaf_hashes(bundle)
            at = next((i for i, (a, b) in enumerate(zip(hashes, leaves, strict=False)) if a != b),
                      min(len(bundle), width))
            how = "removed" if len(bundle) < width else "inserted"
            report.fail(n * WIDTH + at, f"{rel} holds {len(bundle)} entries where the tree has {width}: "
                                        f"entry {n * WIDTH + at} was {how}")
            return None
        out += bundle
    return out


def verify_log(directory: Path, log_key: Verifier, witnesses: list[Verifier], quorum: int,
               old_checkpoints: list[str] = (), data: Data | None = None) -> Report:
    d = Path(directory)
    report = Report()
    try:
        cp, _note, good = open_checkpoint((d / "checkpoint").read_bytes(), log_key, witnesses, quorum)
    except FileNotFoundError:
        report.fail(-1, f"{d / 'checkpoint'} is missing")
        return report
    except NoteError as e:
        report.fail(-1, f"checkpoint: {e}")
        return report
    report.checkpoint, report.size = cp, cp.size
    report.cosigners = [w.name for w in witnesses if w.name in good]
    try:
        tiles = TileTree(d, cp.size, bundle=False)
    except TileError as e:
        report.fail(-1, f"tiles for size {cp.size}: {e}")
        return report
    entries = _entries(d, cp.size, tiles, report)
    if entries is None:
        return report
    leaves = leaf_hashes(entries)
    mem = MemoryTiles(leaves)
    # stored tiles against recomputed ones, level 0 first: the first difference names the entry
    for level in range(len(mem.levels)):
        span = WIDTH ** level
        for n in range((len(mem.levels[level]) + WIDTH - 1) // WIDTH):
            want = mem.tile(level, n)
            try:
                have = tiles.tile(level, n)
            except TileError as e:
                report.fail(n * WIDTH * span, f"{tile_path(level, n, len(want))}: {e}")
                continue
            if have != want:
                i = next(i for i, (a, b) in enumerate(zip(have, want, strict=False)) if a != b) \
                    if len(have) == len(want) else min(len(have), len(want))
                what = ("does not hash to the leaf the tree holds: the entry was changed" if level == 0 else
                        f"is under a level-{level} tile hash that does not match the entries")
                report.fail((n * WIDTH + i) * span, what)
    root = mem.root_hash()
    if root != cp.root:
        report.fail(-1, f"the tree recomputed from the {cp.size} entries has root {root.hex()}, the checkpoint "
                        f"signed {cp.root.hex()}: entries were changed, removed or reordered")
    report.checked["entries"] = cp.size
    # a committed leaf shows nothing of its entry; with the installation's data it is opened first
    opened = data.open(entries, report) if data is not None else entries
    parsed = _check_entries(opened, leaves if opened is entries else leaf_hashes(opened), report)
    for text in old_checkpoints:
        try:
            old, _, _ = open_checkpoint(text, log_key, witnesses, 0)
            if old.size > cp.size:
                report.fail(-1, f"an earlier checkpoint has size {old.size}, more than the current {cp.size}: "
                                "the log lost entries")
                continue
            verify_consistency(old.size, cp.size, old.root, root, consistency_proof(mem.node, old.size, cp.size))
            report.checked["consistency"] = report.checked.get("consistency", 0) + 1
        except (NoteError, ProofError) as e:
            report.fail(-1, f"earlier checkpoint is not consistent with the current one: {e}")
    if data is not None:
        _check_data(parsed, data, report)
    return report


def _check_entries(entries: list[bytes], leaves: list[bytes], report: Report) -> list[dict | None]:
    parsed: list[dict | None] = []
    seen: dict[bytes, str] = {}
    for i, (e, leaf) in enumerate(zip(entries, leaves, strict=True)):
        try:
            obj = orjson.loads(e)
        except orjson.JSONDecodeError:
            report.fail(i, "is not JSON")
            parsed.append(None)
            continue
        if not isinstance(obj, dict) or canonical(obj) != e:
            report.fail(i, "is not canonical (RFC 8785) JSON")
        parsed.append(obj if isinstance(obj, dict) else None)
        if isinstance(obj, dict):
            prev = obj.get("prev")
            if prev is not None:
                try:
                    subj = seen.get(bytes.fromhex(prev))
                except (ValueError, TypeError):
                    subj = None
                if subj != obj.get("subject"):
                    report.fail(i, f"links to {prev!r}, which is no earlier entry of {obj.get('subject')!r}")
            seen[leaf] = obj.get("subject")
    return parsed


def _check_data(parsed: list[dict | None], data: Data, report: Report) -> None:
    by_table: dict[str, dict[int, int]] = {}
    windows: dict[int, dict[int, tuple[int, dict]]] = {}  # window start -> sensor -> newest entry
    for i, e in enumerate(parsed):
        if e is None:
            continue
        if e.get("table") in SEALED:
            by_table.setdefault(e["table"], {})[e["row"]] = i
        elif e.get("kind") == "telemetry":
            windows.setdefault(e["window"][0], {})[int(e["subject"].split("/", 1)[1])] = (i, e)
    for table, rows in by_table.items():
        have = data.rows(table, sorted(rows))
        for row, i in sorted(rows.items(), key=lambda x: x[1]):
            sealed = parsed[i]["sha256"]
            if row not in have:
                report.fail(i, f"{table} row {row} that it sealed was deleted")
            elif record_digest(have[row]) != sealed:
                report.fail(i, f"{table} row {row} no longer matches the digest it sealed: it was changed")
        last = max(rows)
        if data.count_upto(table, last) != len(rows):
            for rid in data.ids_upto(table, last):
                if rid not in rows:
                    report.fail(-1, f"{table} row {rid} has no ledger entry: it was added behind the ledger")
                    break
        report.checked[table] = len(rows)
    if data.window is None or not windows:
        return
    for start, entries in sorted(windows.items()):
        end = next(iter(entries.values()))[1]["window"][1]
        got = {s: (c, dg) for s, c, dg, *_ in window_digests(data.window(start, end))}
        for sensor, (i, e) in sorted(entries.items(), key=lambda x: x[1][0]):
            c, dg = got.get(sensor, (0, None))
            if dg != e["sha256"]:
                report.fail(i, f"the readings of sensor {sensor} in window {start}..{end} no longer match the "
                               f"digest it sealed ({c} stored, {e['count']} sealed): readings were changed, added "
                               "or deleted")
        for sensor in sorted(set(got) - set(entries)):
            report.fail(-1, f"sensor {sensor} has readings in sealed window {start}..{end} that no entry seals")
    report.checked["telemetry windows"] = sum(map(len, windows.values()))
