"""Prometheus metrics of the hot path, for `/metrics`. Counted per group commit (one increment per
batch of requests, never per reading), so measuring costs nothing the readings would notice.
Gauges that describe state (the writer's queue, the ledger) are read when scraped."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

READINGS = Counter("hazwatch_readings", "Readings offered to the pipeline, by result", ["result"])
BATCHES = Counter("hazwatch_ingest_batches", "Group commits of the writer thread (one or more requests each)")
EVALUATION = Histogram("hazwatch_evaluation_seconds", "Validate, store and evaluate one group commit",
                       buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
STAGE = Histogram("hazwatch_stage_seconds", "Writer time per group commit, by step: validate, store, each detection "
                  "stage, limits, alarms (their transaction), publish", ["stage"],
                  buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5))
ALARMS = Counter("hazwatch_alarm_transitions", "Alarm transitions published, by event", ["event"])

QUEUE = Gauge("hazwatch_writer_queue", "Jobs waiting for the writer thread (ingest lag)")
LEDGER = Gauge("hazwatch_ledger_entries", "Entries integrated into the ledger's tree")
LEDGER_PUBLISHED = Gauge("hazwatch_ledger_published_entries", "Entries under the newest cosigned checkpoint")
# memory, apart: the Python heap (blocks the allocator holds: cheap to read at a scrape, unlike a
# walk of every object) and the telemetry store's engine (DuckDB's buffer manager), so a leak is not
# hidden in a cache that fills
PY_BLOCKS = Gauge("hazwatch_python_allocated_blocks", "Memory blocks the Python allocator holds")
STORE_MEMORY = Gauge("hazwatch_store_memory_bytes", "Memory the telemetry store's engine holds in this process")

# scale-out: ingest nodes and workers
PUBLISHED = Counter("hazwatch_published_readings", "Readings an ingest node published to the telemetry stream")
PUBLISH = Histogram("hazwatch_publish_seconds", "Validate and publish one request until JetStream acknowledged it",
                    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
PARTITIONS = Gauge("hazwatch_partitions_owned", "Telemetry partitions this worker holds the lease of")
LAG = Gauge("hazwatch_partition_lag", "Messages of a partition not yet stored and evaluated", ["partition"])
WORKER_SECONDS = Histogram("hazwatch_worker_batch_seconds", "Store and evaluate one fetch of a partition",
                           buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
