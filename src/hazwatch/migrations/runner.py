"""Bring the relational schema up to date at start-up (Alembic), for SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData

from hazwatch.db.base import startup_lock

HERE = Path(__file__).parent


def metadata() -> MetaData:
    # Importing the model modules registers their tables on the shared metadata.
    from hazwatch.alarms import models as _alarms  # noqa: F401
    from hazwatch.auth import models as _auth  # noqa: F401
    from hazwatch.catalog import models as _catalog  # noqa: F401
    from hazwatch.db import Base
    from hazwatch.detect import models as _detect  # noqa: F401
    from hazwatch.incidents import models as _incidents  # noqa: F401
    from hazwatch.ledger import models as _ledger  # noqa: F401
    from hazwatch.packs import models as _packs  # noqa: F401
    from hazwatch.risk import models as _risk  # noqa: F401
    from hazwatch.scale import models as _scale  # noqa: F401

    return Base.metadata


def config(url: str | None = None) -> Config:
    cfg = Config(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(engine: Engine) -> None:
    cfg = config()
    with engine.begin() as conn:
        startup_lock(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
