"""The transparency log: sequences entries durably, integrates them into the tiled Merkle tree in
batches, signs checkpoints, gathers witness cosignatures and publishes a checkpoint only with its
quorum.

    sealed tables ─┐
    telemetry ─────┼─► ledger_entries (durable) ─► integrate: tiles + signed checkpoint ─► witnesses
    append() ──────┘                                                      └─► published checkpoint, anchors

Integration is one thread (the `ledger` thread, or the caller of `integrate`), so entry order,
leaf indices and subject chains need no locks. The tile files are derived data: the entries table
is the durable copy, and the tiles are rebuilt from it if they are lost or do not match.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
from sqlalchemy import Connection, Engine, and_, bindparam, delete, event, func, insert, select, update

from hazwatch.db import Base
from hazwatch.domain import Clock
from hazwatch.domain.batch import ReadingBatch
from hazwatch.keyfile import load_key
from hazwatch.ledger import barrier
from hazwatch.ledger.anchor import Anchor
from hazwatch.ledger.canonical import canonical
from hazwatch.ledger.commit import Committer, is_public_entry, public_entry
from hazwatch.ledger.entries import SEALED, record_entry, telemetry_entry, window_digests
from hazwatch.ledger.late import LateWindows
from hazwatch.ledger.leaves import entry_bodies
from hazwatch.ledger.merkle import consistency_proof, inclusion_proof, leaf_hash, leaf_hashes
from hazwatch.ledger.models import (
    LedgerBatch,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerHead,
    LedgerRecord,
    LedgerSeal,
    LedgerState,
    LedgerWitness,
)
from hazwatch.ledger.note import Checkpoint, Signer
from hazwatch.ledger.proof import render_proof
from hazwatch.ledger.tiles import WIDTH, TileError, TileTree, bundle_path, tile_path
from hazwatch.ledger.witness import WitnessClient, WitnessRefused

log = logging.getLogger(__name__)
_E, _B, _S = LedgerEntry.__table__, LedgerBatch.__table__, LedgerState.__table__
_H, _R, _W = LedgerHead.__table__, LedgerRecord.__table__, LedgerSeal.__table__
_C, _WS = LedgerCheckpoint.__table__, LedgerWitness.__table__
US = 1_000_000
_ROWS = 500  # entries per INSERT statement on SQLite (well under its 32,766 bound parameters)
_INSERT_MANY = "INSERT INTO ledger_entries (body) VALUES " + ",".join(["(?)"] * _ROWS)


class Fork(RuntimeError):
    """The log was about to sign a second root for a size it already signed: it refuses."""


@dataclass(frozen=True)
class SealPolicy:
    window_s: int = 60  # readings are sealed per sensor and window of this length
    grace_s: float = 30.0  # a window is sealed this long after it ends (readings still arriving)
    rows_per_cycle: int = 20_000  # rows of each sealed table read per integration
    late_max_wait_s: float = 300.0  # a window still being filled by late readings is sealed again by then


class Ledger:
    def __init__(self, engine: Engine, directory: Path, signer: Signer, clock: Clock,
                 witnesses: list[WitnessClient] | None = None, quorum: int | None = None,
                 window: Callable[[int, int], ReadingBatch] | None = None, seal: SealPolicy | None = None,
                 anchors: list[Anchor] | None = None, batch_entries: int = 100_000, interval_s: float = 2.0,
                 read_only: bool = False, wake_entries: int = 10_000, commit_key: bytes | None = None) -> None:
        self.engine, self.dir, self.signer, self.clock = engine, Path(directory), signer, clock
        self.origin = signer.name
        self.witnesses = witnesses or []
        self.quorum = len(self.witnesses) if quorum is None else quorum
        if self.quorum > len(self.witnesses):
            raise ValueError(f"witness quorum {self.quorum} is more than the {len(self.witnesses)} witnesses "
                             "configured")
        self.window, self.seal = window, seal or SealPolicy()
        self.anchors = anchors or []
        self.batch_entries, self.interval_s, self.wake_entries = batch_entries, interval_s, wake_entries
        self._wake = threading.Event()  # entries waiting: integrate now, not at the next interval
        self._appended = 0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.late = LateWindows(self.seal.window_s * US, int(self.seal.late_max_wait_s * US))
        self._until_cache: int | None = None  # telemetry before this is sealed (read on the writer thread)
        self._warned = -1e9
        self._completed: list[tuple[int, int]] = []  # full tiles whose partial versions may go
        self.read_only = read_only
        if not read_only:
            self.dir.mkdir(parents=True, exist_ok=True)
        key = commit_key or load_key(self.dir / "commit.key", create=not read_only)
        self.committer = Committer(key) if key else None  # a reader without the key proves no record
        self._open()

    # -- state and tiles ---------------------------------------------------------------------------
    def _state(self, conn: Connection) -> dict:
        row = conn.execute(select(_S).where(_S.c.id == 1)).mappings().first()
        if row is None:
            row = {"id": 1, "size": 0, "last_id": 0, "root": TileTree(self.dir).root_hash().hex(), "marks": {},
                   "sealed_until": None, "commit_from": 0}
            conn.execute(insert(_S).values(**row))
        return dict(row)

    def _open(self) -> None:
        """Tiles at the recorded size; rebuilt from the entries if they do not match (a reader,
        such as the CLI beside a running server, only reads)."""
        with self.engine.begin() as conn:
            st = self._state(conn) if not self.read_only else dict(
                conn.execute(select(_S).where(_S.c.id == 1)).mappings().first() or {"size": 0, "root": ""})
        if self.read_only:
            self.tiles = TileTree(self.dir, st["size"])
            return
        try:
            self.tiles = TileTree(self.dir, st["size"])
            if self.tiles.root_hash().hex() != st["root"]:
                raise TileError(f"tiles give root {self.tiles.root_hash().hex()}, the log recorded {st['root']}")
        except TileError as e:
            log.warning("ledger tiles do not match the entries table (%s); rebuilding them", e)
            self._rebuild(st)

    def _rebuild(self, st: dict) -> None:
        shutil.rmtree(self.dir / "tile", ignore_errors=True)
        self.tiles = TileTree(self.dir)
        after = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(select(_E.c.id, _E.c.body).where(_E.c.id > after, _E.c.id <= st["last_id"])
                                    .order_by(_E.c.id).limit(self.batch_entries)).all()
            if not rows:
                break
            bodies = self._public(rows, st["commit_from"])
            self.tiles.append(bodies, leaf_hashes(bodies))
            after = rows[-1].id
        if self.tiles.size != st["size"] or self.tiles.root_hash().hex() != st["root"]:
            raise TileError(f"the entries table rebuilds a tree of size {self.tiles.size} and root "
                            f"{self.tiles.root_hash().hex()}, not the recorded {st['size']} / {st['root']}: "
                            "entries were changed or removed")

    @property
    def size(self) -> int:
        return self.tiles.size

    # -- appending ---------------------------------------------------------------------------------
    def append(self, conn: Connection, entries: list[bytes]) -> None:
        """Sequence entries (each already canonical JSON) in the caller's transaction: durable
        when it commits, integrated within one interval, or sooner once `wake_entries` wait. At the
        driver's level, as a producer's hot path should be: COPY on PostgreSQL, multi-row INSERTs
        on SQLite."""
        if not entries:
            return
        self._insert(conn, entries)
        self._appended += len(entries)
        if self._appended >= self.wake_entries:
            self._appended = 0
            # wake the thread as they commit (the event comes just before the commit itself; the
            # thread looks again shortly after whatever it finds)
            event.listen(conn, "commit", lambda _conn: self._wake.set(), once=True)

    @staticmethod
    def _insert(conn: Connection, entries: list[bytes]) -> None:
        if conn.dialect.name == "postgresql":
            with conn.connection.driver_connection.cursor() as cur, \
                    cur.copy("COPY ledger_entries (body) FROM STDIN") as copy:
                for e in entries:
                    copy.write_row((e,))
            return
        full, rest = divmod(len(entries), _ROWS)
        if full:
            conn.exec_driver_sql(_INSERT_MANY, [tuple(entries[i * _ROWS:(i + 1) * _ROWS]) for i in range(full)])
        if rest:
            conn.exec_driver_sql("INSERT INTO ledger_entries (body) VALUES " + ",".join(["(?)"] * rest),
                                 tuple(entries[full * _ROWS:]))

    def entry(self, kind: str, subject: str, **fields) -> bytes:
        """An entry of one's own kind (for `append`)."""
        return canonical({"v": 1, "kind": kind, "subject": subject, **fields})

    def readings_stored(self, batch: ReadingBatch) -> None:
        """Bus listener on the writer thread: readings for windows already sealed get those windows
        sealed again. The writer only notes keys; the ledger thread folds them (`LateWindows`)."""
        until = self._until_cache
        if until is None or not len(batch):
            return
        late = batch.ts < until
        if late.any():
            self.late.note(batch.sensor[late], batch.ts[late])

    # -- sealing the tables and the telemetry ------------------------------------------------------
    def _heads(self, conn: Connection, subjects: set[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        names = sorted(subjects)
        for i in range(0, len(names), 500):
            out.update(dict(conn.execute(select(_H.c.subject, _H.c.leaf).where(_H.c.subject.in_(names[i:i + 500])))
                            .all()))
        return out

    def _save_heads(self, conn: Connection, heads: dict[str, str], known: set[str]) -> None:
        new = [{"subject": s, "leaf": h} for s, h in heads.items() if s not in known]
        old = [{"_s": s, "leaf": h} for s, h in heads.items() if s in known]
        if new:
            conn.execute(insert(_H), new)
        if old:
            conn.execute(update(_H).where(_H.c.subject == bindparam("_s")), old)

    def _seal(self, conn: Connection, st: dict, ceiling: dict[str, int] | None = None) -> int:
        """Turn new rows of the sealed tables (up to `ceiling`, the barrier's high water) and closed
        telemetry windows into entries."""
        marks = dict(st["marks"] or {})
        rows_by_table: list[tuple[str, list[dict]]] = []
        for table in SEALED:
            t = Base.metadata.tables.get(table)
            if t is None:
                continue
            after = marks.get(table, 0)
            q = select(t).where(t.c.id > after)
            if ceiling is not None:
                q = q.where(t.c.id <= ceiling.get(table, 0))
            rows = [dict(r) for r in conn.execute(q.order_by(t.c.id).limit(self.seal.rows_per_cycle))
                    .mappings().all()]
            if rows:
                rows_by_table.append((table, rows))
                marks[table] = rows[-1]["id"]
        windows, until = self._due_windows(st)
        windows = self._unchanged_dropped(conn, windows)
        subjects = {SEALED[t].subject(r) for t, rows in rows_by_table for r in rows}
        subjects |= {f"sensor/{d[0]}" for (_, _, digests, _r) in windows for d in digests}
        known = self._heads(conn, subjects)
        heads = dict(known)
        bodies: list[bytes] = []
        refs: list[tuple[str, dict]] = []
        for table, rows in rows_by_table:
            for r in rows:
                subject, body = record_entry(table, r, heads.get(SEALED[table].subject(r)))
                heads[subject] = leaf_hash(body).hex()
                bodies.append(body)
                refs.append(("record", {"tbl": table, "row": r["id"]}))
        for start, end, digests, _regular in windows:
            for sensor, count, digest, *_ in digests:
                subject = f"sensor/{sensor}"
                body = telemetry_entry(sensor, start, end, count, digest, heads.get(subject))
                heads[subject] = leaf_hash(body).hex()
                bodies.append(body)
                refs.append(("seal", {"sensor_id": sensor, "window_start": start, "sha256": digest, "count": count}))
        if not bodies:
            if until != st["sealed_until"] or marks != (st["marks"] or {}):
                self._save_marks(conn, marks, until)
            return 0
        ids = conn.execute(insert(_E).returning(_E.c.id, sort_by_parameter_order=True),
                           [{"body": b} for b in bodies]).scalars().all()
        recs = [{**ref, "entry_id": i} for (kind, ref), i in zip(refs, ids, strict=True) if kind == "record"]
        seals = [{**ref, "entry_id": i} for (kind, ref), i in zip(refs, ids, strict=True) if kind == "seal"]
        if recs:
            conn.execute(insert(_R), recs)
        for s in seals:  # late readings re-seal a window: the newest seal is the one that must match
            conn.execute(delete(_W).where(_W.c.sensor_id == s["sensor_id"], _W.c.window_start == s["window_start"]))
        if seals:
            conn.execute(insert(_W), seals)
        self._save_heads(conn, {s: h for s, h in heads.items() if known.get(s) != h}, set(known))
        self._save_marks(conn, marks, until)
        return len(bodies)

    @staticmethod
    def _unchanged_dropped(conn: Connection, windows: list) -> list:
        """Late readings re-seal a window only if its digest changed (a reading that raced the
        first seal may already be in it)."""
        out = []
        for start, end, digests, regular in windows:
            if not regular and digests:
                have = dict(conn.execute(select(_W.c.sensor_id, _W.c.sha256).where(
                    _W.c.window_start == start, _W.c.sensor_id.in_([d[0] for d in digests]))).all())
                digests = [d for d in digests if have.get(d[0]) != d[2]]
            out.append((start, end, digests, regular))
        return out

    @staticmethod
    def _save_marks(conn: Connection, marks: dict, until: int | None) -> None:
        conn.execute(update(_S).where(_S.c.id == 1).values(marks=marks, sealed_until=until))

    def _due_windows(self, st: dict) -> tuple[list, int | None]:
        """(start, end, digests, regular) for each closed window not sealed yet (at most a few per
        cycle) and each sealed window that got late readings."""
        if self.window is None:
            return [], None
        w = self.seal.window_s * US
        now = self.clock.now_us()
        out = []
        until = st["sealed_until"]
        if until is None:  # the first window sealed is the one the ledger started in
            until = (now // w) * w
        due = []
        while len(due) < 60 and until + w + self.seal.grace_s * US <= now:  # an hour of windows per cycle
            due.append(until)
            until += w
        # readings stored from here on into these windows count as late: none slips between the read
        # below and the new mark
        self._until_cache = until
        for start, sensors in self.late.due(now, flush=self._stop.is_set()):
            batch = self.window(start, start + w)
            out.append((start, start + w, [d for d in window_digests(batch) if d[0] in sensors], False))
        for start in due:
            out.append((start, start + w, window_digests(self.window(start, start + w)), True))
        return out, until

    # -- integration -------------------------------------------------------------------------------
    def integrate(self) -> int:
        """Seal what is new, add every pending entry to the tree, sign the new checkpoint. Returns
        the number of entries integrated."""
        with self._lock:
            tables = [t for t in SEALED if t in Base.metadata.tables]
            ceiling = barrier.high_water(self.engine, tables)  # PostgreSQL: only rows that can no longer move
            with self.engine.begin() as conn:
                st = self._state(conn)
                self._seal(conn, st, ceiling)
            total = 0
            while True:
                n = self._integrate_batch()
                total += n
                if n < self.batch_entries:
                    return total

    def _integrate_batch(self) -> int:
        with self.engine.connect() as conn:
            st = self._state(conn)
            # the driver's rows, not ORM rows: this read is half the cost of integrating
            rows = conn.exec_driver_sql(
                f"SELECT id, body FROM ledger_entries WHERE id > {int(st['last_id'])} ORDER BY id "
                f"LIMIT {int(self.batch_entries)}").cursor.fetchall()
        if not rows:
            return 0
        size0 = self.tiles.size
        bodies = self._public(rows, st["commit_from"])
        completed = self.tiles.append(bodies, leaf_hashes(bodies))
        root = self.tiles.root_hash()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(_B).values(first_idx=size0, first_id=rows[0][0], last_id=rows[-1][0],
                                               count=len(rows)))
                conn.execute(update(_S).where(_S.c.id == 1, _S.c.size == size0).values(
                    size=self.tiles.size, root=root.hex(), last_id=rows[-1][0]))
                self._sign(conn, self.tiles.size, root)
        except Exception:
            self.tiles.open(size0)
            raise
        self._completed += completed
        return len(rows)

    def _public(self, rows, commit_from: int) -> list[bytes]:
        """The leaf bodies of (id, entry) rows: commitments from `commit_from` on."""
        if self.committer is None:
            raise RuntimeError("the ledger's commitment key is missing: it cannot publish entries")
        public = self.committer.public
        return [public(bytes(r[1])) if r[0] >= commit_from else bytes(r[1]) for r in rows]

    def _prune(self, published: int) -> None:
        """Partial tiles whose full tile exists are no longer needed (tlog-tiles allows removing
        them), once the published checkpoint is past them: until then a client following the
        published checkpoint may still ask for them."""
        keep = []
        for level, n in self._completed:
            if (n + 1) * WIDTH ** (level + 1) > published:
                keep.append((level, n))
                continue
            shutil.rmtree(self.dir / (tile_path(level, n) + ".p"), ignore_errors=True)
            if level == 0:
                shutil.rmtree(self.dir / (bundle_path(n) + ".p"), ignore_errors=True)
        self._completed = keep

    def _sign(self, conn: Connection, size: int, root: bytes) -> str:
        signed = conn.execute(select(_C.c.root, _C.c.note).where(_C.c.size == size)).first()
        if signed is not None:
            if signed.root != root.hex():
                raise Fork(f"refusing to sign root {root.hex()} at size {size}: root {signed.root} was signed for it")
            return signed.note
        text = Checkpoint(self.origin, size, root).text()
        note = text + "\n" + self.signer.sign_line(text)
        conn.execute(insert(_C).values(size=size, root=root.hex(), signed_at=self.clock.now_us(), note=note))
        return note

    # -- witnesses and publishing ------------------------------------------------------------------
    def latest_signed(self) -> tuple[int, str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_C.c.size, _C.c.note).order_by(_C.c.size.desc()).limit(1)).first()
        return (row.size, row.note) if row else None

    def published(self) -> tuple[int, str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_C.c.size, _C.c.cosigned).where(_C.c.cosigned.is_not(None))
                               .order_by(_C.c.size.desc()).limit(1)).first()
        return (row.size, row.cosigned) if row else None

    def cosign(self) -> bool:
        """Ask every witness to cosign the newest checkpoint; publish it with the quorum. True
        when a new checkpoint was published."""
        with self._lock:
            latest = self.latest_signed()
            if latest is None:
                return False
            size, note = latest
            pub = self.published()
            if pub and pub[0] >= size:
                return False
            lines = []
            for w in self.witnesses:
                line = self._ask(w, size, note)
                if line:
                    lines.append(line)
            if len(lines) < self.quorum:
                now = time.monotonic()
                if now - self._warned >= 60:  # a witness down for hours: once a minute, not every cycle
                    self._warned = now
                    log.warning("checkpoint %d has %d of the %d cosignatures its publication needs; the "
                                "checkpoint of size %s stays published", size, len(lines), self.quorum,
                                pub[0] if pub else "none")
                return False
            cosigned = note + "".join(lines)
            with self.engine.begin() as conn:
                conn.execute(update(_C).where(_C.c.size == size).values(cosigned=cosigned,
                                                                        published_at=self.clock.now_us()))
            self._write_checkpoint(cosigned)
            self._prune(size)
            root = Checkpoint.parse(note.split("\n\n")[0] + "\n").root
            for a in self.anchors:
                try:
                    a.publish(self.origin, size, root, cosigned)
                except Exception:
                    log.exception("anchor %s failed for checkpoint %d", getattr(a, "name", a), size)
            return True

    def witness_sizes(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return dict(conn.execute(select(_WS.c.name, _WS.c.size)).all())

    def _witness_size(self, name: str) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(select(_WS.c.size).where(_WS.c.name == name)) or 0

    def _set_witness_size(self, name: str, size: int) -> None:
        with self.engine.begin() as conn:
            if conn.execute(update(_WS).where(_WS.c.name == name).values(size=size)).rowcount == 0:
                conn.execute(insert(_WS).values(name=name, size=size))

    def _ask(self, w: WitnessClient, size: int, note: str) -> str | None:
        old = self._witness_size(w.name)
        for _ in range(2):  # a 409 tells the witness's size: one retry from there
            if old > size:
                log.error("witness %s has cosigned size %d, beyond this log's %d", w.name, old, size)
                return None
            try:
                line = w.add_checkpoint(old, consistency_proof(self.tiles.node, old, size), note)
            except WitnessRefused as e:
                if e.status == 409 and e.body.strip().isdigit():
                    old = int(e.body.strip())
                    continue
                log.warning("witness %s refused checkpoint %d: %s", w.name, size, e)
                return None
            except Exception as e:
                log.warning("witness %s unreachable: %s", w.name, e)
                return None
            self._set_witness_size(w.name, size)
            return line
        return None

    def _write_checkpoint(self, text: str) -> None:
        path = self.dir / "checkpoint"
        tmp = path.with_name("checkpoint.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)

    # -- proofs ------------------------------------------------------------------------------------
    def index_of(self, entry_id: int) -> int | None:
        with self.engine.connect() as conn:
            b = conn.execute(select(_B).where(_B.c.first_id <= entry_id).order_by(_B.c.first_id.desc())
                             .limit(1)).mappings().first()
            if b is None or entry_id > b["last_id"]:
                return None
            if b["last_id"] - b["first_id"] + 1 == b["count"]:
                return b["first_idx"] + entry_id - b["first_id"]
            before = conn.scalar(select(func.count()).select_from(_E).where(
                and_(_E.c.id >= b["first_id"], _E.c.id < entry_id)))
            return b["first_idx"] + before

    def record_index(self, table: str, row: int) -> int | None:
        with self.engine.connect() as conn:
            eid = conn.scalar(select(_R.c.entry_id).where(_R.c.tbl == table, _R.c.row == row))
        return None if eid is None else self.index_of(eid)

    def record(self, table: str, row: int) -> dict | None:
        t = Base.metadata.tables[table]
        with self.engine.connect() as conn:
            r = conn.execute(select(t).where(t.c.id == row)).mappings().first()
        return dict(r) if r else None

    def prove(self, index: int, with_record: bool = True) -> str:
        """A C2SP tlog-proof of entry `index` under the newest published checkpoint, with the entry
        (and, for a record, the record itself) as its extra data."""
        pub = self.published()
        if pub is None or index >= pub[0]:
            raise LookupError(f"entry {index} is not covered by a published (cosigned) checkpoint yet"
                              + (f"; the newest covers {pub[0]} entries" if pub else ""))
        size, note = pub
        if index < 0:
            raise LookupError("entry indices start at 0")
        with self._lock:
            entry = next(e for _, e in self.tiles.entries(index, index + 1))
            path = inclusion_proof(self.tiles.node, index, size)
        extra: dict = {"entry": entry.decode()}
        if with_record and is_public_entry(entry):
            # the caller may see the record: the entry itself and its salt, to recompute the leaf
            body = self._private(index)
            salt = self.committer.salt(body) if self.committer is not None and body is not None else None
            if salt is None or public_entry(salt, body) != entry:
                raise LookupError(f"entry {index} cannot be opened here (no commitment key, or the entries "
                                  "table does not hold it)")
            extra = {"entry": body.decode(), "salt": salt.hex()}
        e = orjson.loads(extra["entry"])
        if with_record and "table" in e:
            rec = self.record(e["table"], e["row"])
            if rec is not None:
                extra["record"] = rec
        return render_proof(index, path, note, canonical(extra))

    def _private(self, index: int) -> bytes | None:
        """The entry at leaf `index`, from the entries table (the inverse of index_of)."""
        with self.engine.connect() as conn:
            return next((body for _, body in entry_bodies(conn, index, index + 1)), None)

    # -- the thread --------------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hazwatch-ledger", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=30)
            self._thread = None
        try:
            self.integrate()
        except Exception:
            log.exception("final ledger integration failed")
        for w in self.witnesses:
            w.close()

    def _run(self) -> None:
        again = False  # a pass that follows a wake by producers
        while True:
            woken = self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                n = self.integrate()
                self.cosign()
            except Exception:
                log.exception("ledger cycle failed")
                continue
            # woken by producers (the wake comes just before their commit): look again shortly, and
            # keep looking while entries keep coming, instead of waiting for the next interval
            again = woken and (n > 0 or not again)
            if again and not self._stop.wait(0.1):
                self._wake.set()

