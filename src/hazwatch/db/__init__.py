"""Relational state (catalog, alarms, users) through SQLAlchemy 2: SQLite embedded, PostgreSQL in production."""

from hazwatch.db.base import Base, make_engine

__all__ = ["Base", "make_engine"]
