"""Shared fixtures. Tests that need PostgreSQL, Mosquitto or NATS skip when the service is absent,
except when HAZWATCH_REQUIRE_SERVICES=1 (CI), where an absent service fails the run."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
from fastapi.testclient import TestClient

from hazwatch.app import build, make_api
from hazwatch.catalog.io import load_file
from hazwatch.services import Services
from hazwatch.settings import Settings

DATA = Path(__file__).parent / "data"

# Property tests: the same cases every run in `make test` (a failure there is a change in the code,
# not a new draw); `make reliability` draws new ones each time (HYPOTHESIS_PROFILE=random).
hypothesis.settings.register_profile("suite", derandomize=True)
hypothesis.settings.register_profile("random", derandomize=False)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))
TOKEN = "test-admin-token-3b1f"
PG_ADMIN_DSN = os.environ.get("HAZWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def require_service(name: str, port: int) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return
    except OSError:
        msg = f"{name} is not running on 127.0.0.1:{port}"
        if os.environ.get("HAZWATCH_REQUIRE_SERVICES") == "1":
            pytest.fail(msg + " (HAZWATCH_REQUIRE_SERVICES=1)")
        pytest.skip(msg)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; yields its URL."""
    require_service("PostgreSQL", 5432)
    import psycopg

    name = f"hz_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    url = PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def relational_engine(request, tmp_path: Path):
    """The embedded database and a fresh PostgreSQL one, every table made: for code whose SQL takes
    a different path on each."""
    from hazwatch.db import Base, make_engine
    from hazwatch.migrations.runner import metadata
    from hazwatch.settings import _sqlalchemy_url

    if request.param == "sqlite":
        e = make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    else:
        e = make_engine(_sqlalchemy_url(request.getfixturevalue("pg_database")))
    metadata()
    Base.metadata.create_all(e)
    yield e
    e.dispose()


def eventually(fn, seconds: float = 5.0):
    """Poll fn until it returns something truthy (the server works on its own thread); that value,
    or fn's last answer when time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.02)
    return fn()


def make_settings(tmp_path: Path, **kw) -> Settings:
    # scheduled reports, the upward feed and the ledger are off unless a test asks: they would run in
    # the background of every test (tests/ledger and the end-to-end tests turn the ledger on)
    return Settings(data_dir=tmp_path / "data", admin_token=TOKEN,
                    **({"tick_interval_s": 0.05, "checkpoint_interval_s": 0.2, "report_schedule": [],
                        "feed_interval_s": 0, "ledger_enabled": False} | kw))


def build_services(settings: Settings, catalog: Path | None = DATA / "catalog.yaml") -> Services:
    services = build(settings)
    if catalog is not None:
        services.catalog.apply(load_file(catalog), str(catalog))
        services.pipeline.reload_catalog()
    services.auth.ensure_admin(TOKEN)
    return services


@pytest.fixture
def services(tmp_path: Path) -> Services:
    return build_services(make_settings(tmp_path))


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


# -- running in parallel (pytest-xdist) ------------------------------------------------------------
# Tests that talk to the shared Mosquitto (1883) or NATS (4222) on their standard ports see each
# other's messages on the same topics and streams, so each such module runs on one worker, one
# test after another (`--dist loadgroup`); everything else (own temp dirs, own PostgreSQL
# databases, servers on free ports) spreads over the workers.
_SHARED_PORTS = ("1883", "4222", "mosquitto_service")
_shared_modules: dict[Path, bool] = {}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        path = Path(item.path)
        if path not in _shared_modules:
            text = path.read_text(encoding="utf-8", errors="replace")
            _shared_modules[path] = any(p in text for p in _SHARED_PORTS)
        if _shared_modules[path]:
            item.add_marker(pytest.mark.xdist_group("shared-broker"))
