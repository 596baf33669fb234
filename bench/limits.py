"""The raw limits of this machine, so each Hazwatch figure can be read as a fraction of what the
parts underneath could do with nothing on top:

- DuckDB: appending 10,000-row numpy batches to a bare table, one transaction each;
- PostgreSQL: binary COPY of 10,000-row batches into a bare table, one transaction each;
- MQTT: the C client (`mosquitto_sub -V 5`, receive maximum 65,535) draining one-reading QoS 1
  messages from Mosquitto (acknowledge, nothing else), beside Hazwatch's own MQTT 5 session doing
  the same;
- JSON: orjson decoding one-reading messages and 10,000-reading columnar bodies, beside Hazwatch's
  own decoder (msgspec into typed columns, then numpy arrays) on the same bodies.

    python bench/limits.py [--seconds 5] [--write-docs]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import orjson
from benchdocs import machine, scratch, write_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
BATCH = 10_000
PG_ADMIN = os.environ.get("HAZWATCH_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def batches(n: int) -> list[dict]:
    rng = np.random.default_rng(1)
    t0 = int((time.time() - 100_000) * 1e6)
    return [{"sensor": np.tile(np.arange(1000, dtype=np.int32), BATCH // 1000),
             "ts": t0 + (i * 10 + np.repeat(np.arange(10), 1000)) * 1000,
             "value": rng.normal(50, 15, BATCH), "quality": np.zeros(BATCH, np.int8)} for i in range(n)]


def timed(seconds: float, step) -> float:
    """Readings per second of `step` (which returns readings done) run for about `seconds`."""
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        n += step()
    return n / (time.perf_counter() - start)


def duckdb_append(seconds: float) -> float:
    import duckdb

    with tempfile.TemporaryDirectory(dir=scratch()) as tmp:
        con = duckdb.connect(str(Path(tmp) / "raw.duckdb"))
        con.execute("CREATE TABLE readings (sensor INTEGER, ts BIGINT, value DOUBLE, quality TINYINT)")
        pool = batches(50)
        it = iter(range(10**9))

        def step() -> int:
            frame = pool[next(it) % len(pool)]  # noqa: F841 - read by DuckDB's replacement scan
            con.execute("INSERT INTO readings SELECT * FROM frame")
            return BATCH

        rate = timed(seconds, step)
        con.close()
        return rate


def postgres_copy(seconds: float) -> float | None:
    import psycopg

    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        print(f"PostgreSQL COPY: skipped, {e}".strip())
        return None
    db = f"hz_limits_{uuid.uuid4().hex[:8]}"
    admin.execute(f"CREATE DATABASE {db}")
    try:
        with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + "/" + db) as con:
            con.execute("CREATE TABLE readings (sensor integer, ts bigint, value double precision, quality smallint)")
            con.commit()
            pool = batches(20)
            rows = [list(zip(b["sensor"].tolist(), b["ts"].tolist(), b["value"].tolist(),
                             b["quality"].astype(np.int16).tolist(), strict=True)) for b in pool]
            it = iter(range(10**9))

            def step() -> int:
                with con.cursor() as cur, cur.copy("COPY readings FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(["int4", "int8", "float8", "int2"])
                    for r in rows[next(it) % len(rows)]:
                        cp.write_row(r)
                con.commit()
                return BATCH

            return timed(seconds, step)
    finally:
        admin.execute(f"DROP DATABASE {db} WITH (FORCE)")
        admin.close()


def decoding(seconds: float) -> dict[str, float]:
    """orjson against Hazwatch's decoder (columns, then arrays against the catalog's tag index)."""
    from hazwatch.app import tune_gc
    from hazwatch.ingest.payload import Columns, arrays, columns

    tune_gc()  # as the server runs

    class Index:  # the tag lookup the decoder needs, nothing else
        def __init__(self, tags: list[str]) -> None:
            self.ids = {t: i for i, t in enumerate(tags)}

        def lookup(self, tags: list[str]) -> np.ndarray:
            return np.fromiter((self.ids.get(t, -1) for t in tags), np.int32, len(tags))

    tags = [f"S{i:04d}" for i in range(1000)]
    index = Index(tags)
    t0 = time.time() - 3600
    small = [orjson.dumps({"readings": [{"sensor": tags[i % 1000], "ts": t0 + i * 1e-3, "value": 50.5}]})
             for i in range(10_000)]
    big = orjson.dumps({"sensor": tags * 10, "ts": [t0 + i * 1e-3 for i in range(BATCH)], "value": [50.5] * BATCH})
    out = {}
    out["orjson, one reading per message"] = timed(seconds / 4, lambda: sum(1 for b in small if orjson.loads(b)))
    def group() -> int:  # as the MQTT adapter does: columns per message, arrays once per group
        cs = [columns(b, 100_000) for b in small]
        joined = Columns([t for c in cs for t in c.tags], [t for c in cs for t in c.ts],
                         [v for c in cs for v in c.values], [q for c in cs for q in c.quality], "$.ts[{i}]")
        return len(arrays(joined, index).sensor)

    out["Hazwatch decoder, one reading per message"] = timed(seconds / 4, group)
    out["orjson, 10,000-reading columnar body"] = timed(seconds / 4, lambda: len(orjson.loads(big)["value"]))
    out["Hazwatch decoder, 10,000-reading columnar body"] = timed(
        seconds / 4, lambda: len(arrays(columns(big, 100_000), index).sensor))
    return out


def bare_mqtt(messages: int) -> dict[str, float]:
    """Messages/s of the consumers that only receive and acknowledge, draining one-reading messages
    (bench/mqtt_ingest.py's broker and references; its messages carry 10 readings, these one)."""
    import mqtt_ingest

    with tempfile.TemporaryDirectory(dir=scratch()) as tmp:
        proc, port = mqtt_ingest.start_broker(Path(tmp))
        saved = mqtt_ingest.PER_DEVICE
        mqtt_ingest.PER_DEVICE = 1
        try:
            out = {"Hazwatch's MQTT 5 session draining QoS 1 messages of one reading (acknowledge groups only)":
                   mqtt_ingest.session_rate(port, messages, "limits-session")}
            c = mqtt_ingest.mosquitto_sub_rate(port, messages, "limits-csub")
            if c is not None:
                out["`mosquitto_sub -V 5` draining QoS 1 messages of one reading (acknowledge, nothing else)"] = c
            return out
        finally:
            mqtt_ingest.PER_DEVICE = saved
            proc.terminate()
            proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    duck = duckdb_append(args.seconds)
    print(f"DuckDB append, 10k batches        {duck:>12,.0f} readings/s", flush=True)
    pg = postgres_copy(args.seconds)
    if pg is not None:
        print(f"PostgreSQL binary COPY, 10k rows  {pg:>12,.0f} readings/s", flush=True)
    mq = bare_mqtt(args.messages)
    for k, v in mq.items():
        print(f"{k[:48]:<48} {v:>12,.0f} messages/s", flush=True)
    dec = decoding(args.seconds)
    for k, v in dec.items():
        print(f"{k:<48} {v:>12,.0f} readings/s")
    if args.write_docs:
        rows = [("DuckDB append of 10,000-row numpy batches, bare table, one transaction each", duck, "readings/s"),
                *([("PostgreSQL binary COPY of 10,000-row batches, bare table, one transaction each", pg,
                    "readings/s")] if pg is not None else []),
                *[(k, v, "messages/s") for k, v in mq.items()],
                *[(k, v, "readings/s") for k, v in dec.items()]]
        write_section("limits", (
            "## Raw limits of this machine\n\nCommand: `python bench/limits.py " + " ".join(sys.argv[1:]) + "`  \n"
            f"{machine()} The parts underneath Hazwatch with nothing on top, measured in the same `make bench` run "
            "as the Hazwatch figures in the other sections, which say what fraction of these they reach.\n\n"
            "| part | rate | unit |\n|---|---:|---|\n"
            + "\n".join(f"| {k} | {v:,.0f} | {u} |" for k, v, u in rows)
            + f"\n\nHazwatch's decoder reaches {dec['Hazwatch decoder, one reading per message'] / dec['orjson, one reading per message']:.0%} "  # noqa: E501
            f"of orjson on one-reading messages and "
            f"{dec['Hazwatch decoder, 10,000-reading columnar body'] / dec['orjson, 10,000-reading columnar body']:.0%}"
            " on columnar bodies (it also checks types and shape and builds the arrays)."))


if __name__ == "__main__":
    main()
