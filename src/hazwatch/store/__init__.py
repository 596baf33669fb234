"""Telemetry storage: one protocol, an embedded DuckDB backend and a PostgreSQL backend."""

from hazwatch.store.base import SeriesFrame, TelemetryStore, open_store

__all__ = ["SeriesFrame", "TelemetryStore", "open_store"]
