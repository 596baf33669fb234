"""A telemetry store from its URL: a registry by scheme. Each backend is imported only when its
scheme is asked for (the embedded installation never loads the PostgreSQL driver), and the
backends import the protocol module, never this one, so there is no import cycle."""

from __future__ import annotations

from collections.abc import Callable

from hazwatch.store.base import TelemetryStore


def _duckdb(url: str, duckdb_memory_limit: str | None) -> TelemetryStore:
    from hazwatch.store.duckdb import DuckDBStore

    return DuckDBStore(url.removeprefix("duckdb://"), memory_limit=duckdb_memory_limit)


def _postgres(url: str, duckdb_memory_limit: str | None) -> TelemetryStore:
    from hazwatch.store.postgres import PostgresStore

    return PostgresStore(url.replace("postgresql+psycopg://", "postgresql://"))


BACKENDS: dict[str, Callable[[str, str | None], TelemetryStore]] = {
    "duckdb://": _duckdb,
    "postgresql://": _postgres,
    "postgres://": _postgres,
    "postgresql+psycopg://": _postgres,
}


def open_store(url: str, duckdb_memory_limit: str | None = None) -> TelemetryStore:
    opener = next((make for scheme, make in BACKENDS.items() if url.startswith(scheme)), None)
    if opener is None:
        raise ValueError(f"unknown telemetry store URL {url!r}: use duckdb:///FILE or postgresql://...")
    return opener(url, duckdb_memory_limit)
