"""Prometheus metrics of the hot path, for `/metrics`. Counted per group commit (one increment per
batch of requests, never per reading), so measuring costs nothing the readings would notice.
Gauges that describe state (the writer's queue, the ledger) are read when scraped."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

READINGS = Counter("hazwatch_readings", "Readings offered to the pipeline, by result", ["result"])
BATCHES = Counter("hazwatch_ingest_batches", "Group commits of the writer thread (one or more requests each)")
EVALUATION = Histogram("hazwatch_evaluation_seconds", "Validate, store and evaluate one group commit",
                       buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
ALARMS = Counter("hazwatch_alarm_transitions", "Alarm transitions published, by event", ["event"])

QUEUE = Gauge("hazwatch_writer_queue", "Jobs waiting for the writer thread (ingest lag)")
LEDGER = Gauge("hazwatch_ledger_entries", "Entries integrated into the ledger's tree")
LEDGER_PUBLISHED = Gauge("hazwatch_ledger_published_entries", "Entries under the newest cosigned checkpoint")
