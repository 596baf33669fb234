"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL, so a
model changed without its migration (or the other way round) fails here and not in production."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from hazwatch.migrations.runner import metadata, upgrade


def _differences(url: str) -> list:
    engine = create_engine(url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn), metadata())
    finally:
        engine.dispose()


def test_sqlite_schema_matches_the_models(tmp_path):
    assert _differences(f"sqlite:///{tmp_path / 'm.db'}") == []


@pytest.mark.services
def test_postgresql_schema_matches_the_models(pg_database):
    assert _differences(pg_database.replace("postgresql://", "postgresql+psycopg://")) == []
