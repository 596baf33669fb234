"""Telemetry storage: one protocol, an embedded DuckDB backend and a PostgreSQL backend."""

from hazwatch.store.base import SeriesFrame, TelemetryStore
from hazwatch.store.opening import open_store

__all__ = ["SeriesFrame", "TelemetryStore", "open_store"]
