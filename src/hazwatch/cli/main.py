"""The `hazwatch` command: demo, serve, catalog import/export, users, MQTT credentials, OpenAPI export."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hazwatch.cli.common import catalog_audit, cli_actor, settings_for
from hazwatch.cli.ledger import ledger_app, witness_app
from hazwatch.cli.model import model_app
from hazwatch.cli.pack import pack_app
from hazwatch.cli.risk import risk_app
from hazwatch.cli.tier import tier_app

app = typer.Typer(help="Hazwatch: industrial-internet safety production platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
catalog_app = typer.Typer(help="Import and export the catalog (orgs, sites, hazard sources, devices, sensors).",
                          no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
app.add_typer(tier_app, name="tier")
users_app = typer.Typer(help="Manage users from the command line.", no_args_is_help=True)
app.add_typer(users_app, name="users")
mqtt_app = typer.Typer(help="Broker credentials for devices.", no_args_is_help=True)
app.add_typer(mqtt_app, name="mqtt-auth")
edge_app = typer.Typer(help="The edge gateway that runs at the plant.", no_args_is_help=True)
app.add_typer(edge_app, name="edge")
sim_app = typer.Typer(help="The demo park as real field servers (OPC UA, Modbus TCP), for the adapters and the "
                      "gateway.",
                      no_args_is_help=True)
app.add_typer(sim_app, name="sim")
app.add_typer(model_app, name="model")
app.add_typer(risk_app, name="risk")
app.add_typer(ledger_app, name="ledger")
app.add_typer(witness_app, name="witness")
app.add_typer(pack_app, name="pack")
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Embedded mode's files (default from "
                                                                   "HAZWATCH_DATA_DIR or .hazwatch/data)")]


class _JsonLines(logging.Formatter):
    """One JSON object per line (HAZWATCH_LOG_FORMAT=json), for a log shipper on a cluster node."""

    def __init__(self, node: str | None) -> None:
        super().__init__()
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        import orjson

        doc = {"ts": record.created, "level": record.levelname, "logger": record.name,
               "message": record.getMessage()}
        if self.node:
            doc["node"] = self.node
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return orjson.dumps(doc).decode()


def _logging(node: str | None = None) -> None:
    level = os.environ.get("HAZWATCH_LOG_LEVEL", "WARNING")
    if os.environ.get("HAZWATCH_LOG_FORMAT", "text").lower() == "json":
        handler = logging.StreamHandler()
        handler.setFormatter(_JsonLines(node))
        logging.basicConfig(level=level, handlers=[handler])
    else:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def serve(data_dir: DataDir = None, host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option()] = None,
          role: Annotated[str | None, typer.Option(
              help="all (default: everything in one process), ingest (validate and publish to NATS "
                   "JetStream), worker (own partitions: store, evaluate, alarm) or api (the API and console "
                   "over the cluster); HAZWATCH_ROLE")] = None) -> None:
    """Run the server on the stored catalog (import one first with `hazwatch catalog import`)."""
    from hazwatch.app import build
    from hazwatch.app import serve as run

    roles = ("all", "ingest", "worker", "api")
    if role is not None and role not in roles:
        err.print(f"[red]--role {role!r} is not one of {', '.join(roles)}[/]")
        raise typer.Exit(2)
    settings = settings_for(data_dir, host=host, port=port, role=role)
    _logging(settings.node_id)
    if settings.role != "all" and not settings.database_url:
        err.print(f"[red]--role {settings.role} needs HAZWATCH_DATABASE_URL[/] (PostgreSQL, shared by every node)")
        raise typer.Exit(2)
    services = build(settings)
    generated = services.auth.ensure_admin(
        settings.admin_token.get_secret_value() if settings.admin_token else None)
    scheme = "https" if settings.tls_certfile else "http"
    console.print(f"Hazwatch ({settings.role}) listening on [bold]{scheme}://{settings.host}:{settings.port}[/] "
                  f"({len(services.index.tag_to_id)} sensors)")
    if generated:
        console.print(f"Admin API token (shown once, keep it): [bold]{generated}[/]")
    run(services, settings.host, settings.port)


@app.command()
def demo(duration: Annotated[float, typer.Option(help="seconds before the demo stops by itself")] = 600,
         port: Annotated[int, typer.Option()] = 8000,
         data_dir: Annotated[Path, typer.Option("--data-dir")] = Path(".hazwatch/demo"),
         host: Annotated[str, typer.Option()] = "127.0.0.1") -> None:
    """Start the embedded server with a simulated chemical park whose faults raise and clear alarms."""
    from hazwatch.demo import run_demo

    _logging()
    run_demo(settings_for(data_dir, host=host, port=port), duration, console)


@catalog_app.command("import")
def catalog_import(file: Annotated[Path, typer.Argument(help="catalog as .yaml, .yml, .json or .csv")],
                   data_dir: DataDir = None) -> None:
    """Validate FILE and apply it whole (upsert by code and tag); a bad file changes nothing."""
    from hazwatch.app import open_database
    from hazwatch.catalog import CatalogError, CatalogRepository
    from hazwatch.catalog.io import load_file

    audit = catalog_audit()
    try:
        doc = load_file(file)
        summary = CatalogRepository(open_database(settings_for(data_dir))).apply(doc, str(file), on_change=audit)
    except CatalogError as e:
        err.print(f"[red]catalog refused, nothing applied[/] ({len(e.problems)} problem(s)):")
        for p in e.problems:
            err.print(f"  {p}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    parts = [f"{k}: {summary.created.get(k, 0)} created, {summary.updated.get(k, 0)} updated, "
             f"{summary.unchanged.get(k, 0)} unchanged"
             for k in sorted(set(summary.created) | set(summary.updated) | set(summary.unchanged))]
    console.print(f"imported {file} (catalog revision {summary.revision})")
    for p in parts:
        console.print(f"  {p}")


@catalog_app.command("export")
def catalog_export(fmt: Annotated[str, typer.Option("--format", help="yaml, json or csv (sensors only)")] = "yaml",
                   output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
                   data_dir: DataDir = None) -> None:
    """Write the stored catalog; the output imports back unchanged."""
    from hazwatch.app import open_database
    from hazwatch.catalog import CatalogError, CatalogRepository
    from hazwatch.catalog.io import dump_document

    try:
        text = dump_document(CatalogRepository(open_database(settings_for(data_dir))).export(), fmt)
    except CatalogError as e:
        err.print(e.problems[0])
        raise typer.Exit(2) from None
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@catalog_app.command("schema")
def catalog_schema() -> None:
    """Print the JSON Schema of catalog documents."""
    from hazwatch.catalog.schema import json_schema

    sys.stdout.write(json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n")


@users_app.command("add")
def users_add(username: str, role: Annotated[str, typer.Option(help="admin, regulator, park_admin, "
                                                                    "enterprise_admin, operator or viewer")],
              org: Annotated[str | None, typer.Option(help="org code; omit only for an installation admin")] = None,
              password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from "
                                                           "standard input instead of prompting")] = False,
              data_dir: DataDir = None) -> None:
    """Create a user from the command line (for the first users of a new installation)."""
    from hazwatch.app import build_auth, open_database
    from hazwatch.auth import Principal, Scope
    from hazwatch.domain.errors import ServiceError

    engine = open_database(settings_for(data_dir))
    password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt(
        "password", hide_input=True, confirmation_prompt=True)
    _, users, _ = build_auth(engine, settings_for(data_dir), lambda: -1)
    tree = users.orgs.current()
    node = tree.by_code(org) if org else None
    if org and node is None:
        err.print(f"unknown org {org!r}")
        raise typer.Exit(2)
    cli = Principal(None, cli_actor().name, "admin", None)
    try:
        out = users.create(cli, Scope(None), username, password, role, node.id if node else None, "local")
    except ServiceError as e:
        err.print(e.message)
        raise typer.Exit(2) from None
    console.print(f"user {out['username']!r} ({out['role']}) created with id {out['id']}")


@users_app.command("passwd")
def users_passwd(username: str,
                 password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the new password "
                                                              "from standard input instead of prompting")] = False,
                 data_dir: DataDir = None) -> None:
    """Set a user's password (for the bootstrap admin, or a user locked out of their account);
    the user's login sessions end."""
    from sqlalchemy import select

    from hazwatch.app import build_auth, open_database
    from hazwatch.auth import Principal
    from hazwatch.auth.models import User
    from hazwatch.domain.errors import ServiceError

    engine = open_database(settings_for(data_dir))
    with engine.connect() as conn:
        uid = conn.scalar(select(User.id).where(User.name == username))
    if uid is None:
        err.print(f"unknown user {username!r}")
        raise typer.Exit(2)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt(
        "new password", hide_input=True, confirmation_prompt=True)
    _, users, _ = build_auth(engine, settings_for(data_dir), lambda: -1)
    try:
        users.set_password(Principal(None, cli_actor().name, "admin", None), uid, password, remote="local")
    except ServiceError as e:
        err.print(e.message)
        raise typer.Exit(2) from None
    console.print(f"password of {username!r} set")


@mqtt_app.command("export")
def mqtt_auth_export(directory: Annotated[Path, typer.Argument(help="where to write password_file and acl_file")],
                     server_user: Annotated[str, typer.Option(help="the broker account Hazwatch reads with")]
                     = "hazwatch",
                     data_dir: DataDir = None) -> None:
    """Write Mosquitto's password_file and acl_file from the catalog and the device secrets: each device
    (user name = device code, password = its newest secret) may publish only to
    hz/v1/{enterprise}/{device}/telemetry and /status. The server's account reads hz/v1/#; its password
    comes from HAZWATCH_MQTT_URL, or is generated and written to DIR/server-password."""
    import secrets
    from urllib.parse import unquote, urlsplit

    from hazwatch.app import build_auth, open_database

    settings = settings_for(data_dir)
    engine = open_database(settings)
    _, _, devices = build_auth(engine, settings, lambda: -1)
    url = urlsplit(settings.mqtt_url) if settings.mqtt_url else None
    if url is not None and url.password:
        server_user, password = unquote(url.username or server_user), unquote(url.password)
    else:
        password = secrets.token_urlsafe(24)
    pw, acl = devices.mosquitto_files(server_user, password)
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in (("password_file", pw), ("acl_file", acl)) + (
            (("server-password", password + "\n"),) if url is None or not url.password else ()):
        path = directory / name
        path.write_text(text, encoding="utf-8")
        os.chmod(path, 0o600)
    n = pw.count("\n") - 1
    console.print(f"wrote {directory / 'password_file'} and {directory / 'acl_file'}: {n} device(s) and "
                  f"the server account {server_user!r}")
    console.print("  mosquitto.conf:  allow_anonymous false / password_file ... / acl_file ...")


def _serve_for(serve, duration: float | None) -> None:
    """Run `serve(stop)` until interrupted, or until `duration` seconds have passed."""
    import asyncio

    async def main() -> None:
        stop = asyncio.Event()
        if duration:
            asyncio.get_running_loop().call_later(duration, stop.set)
        await serve(stop)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


@sim_app.command("opcua")
def sim_opcua(port: Annotated[int, typer.Option()] = 4840, host: Annotated[str, typer.Option()] = "127.0.0.1",
              catalog_out: Annotated[Path | None, typer.Option("--catalog-out", help="write the park's catalog "
                                                               "with each sensor's source on this server")] = None,
              duration: Annotated[float | None, typer.Option(help="seconds before it stops by itself")] = None) -> None:
    """Serve the demo park as an OPC UA server: one variable per sensor (ns=2;s=TAG), updated each second."""
    from hazwatch.catalog.io import dump_document
    from hazwatch.sim import park_catalog
    from hazwatch.sim.opcua_server import serve_park, with_sources

    doc = park_catalog()

    def ready(endpoint: str) -> None:
        console.print(f"OPC UA server on [bold]{endpoint}[/] ({len(doc.sensors)} variables, ns=2;s=<tag>)")
        if catalog_out:
            catalog_out.write_text(dump_document(with_sources(doc, endpoint), "yaml"), encoding="utf-8")
            console.print(f"catalog with sources written to {catalog_out}: `hazwatch catalog import {catalog_out}`")

    _serve_for(lambda stop: serve_park(doc, port, host, ready=ready, stop=stop), duration)


@sim_app.command("modbus")
def sim_modbus(port: Annotated[int, typer.Option()] = 5020, host: Annotated[str, typer.Option()] = "127.0.0.1",
               map_out: Annotated[Path | None, typer.Option("--map-out", help="write the register map (a Modbus "
                                                            "config for the adapter and the gateway)")] = None,
               duration: Annotated[float | None, typer.Option(help="seconds before it stops by itself")] = None
               ) -> None:
    """Serve the demo park as a Modbus TCP server: each sensor a float32 in two holding registers."""
    import yaml

    from hazwatch.sim import park_catalog
    from hazwatch.sim.modbus_server import serve_park

    doc = park_catalog()

    def ready(config) -> None:
        console.print(f"Modbus TCP server on [bold]{host}:{port}[/] unit 1: {len(doc.sensors)} float32 points "
                      "in holding registers 0..")
        if map_out:
            map_out.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
            console.print(f"register map written to {map_out}")

    _serve_for(lambda stop: serve_park(doc, port, host, ready=ready, stop=stop), duration)


@edge_app.command("run")
def edge_run(config: Annotated[Path, typer.Option("--config", help="edge.yaml: uplink, spool, opcua, modbus")]
             ) -> None:
    """Run the edge gateway: read the plant's OPC UA and Modbus servers, spool locally, forward signed
    batches to the platform, and hold everything while the uplink is down."""
    import asyncio

    from pydantic import ValidationError

    from hazwatch.ingest.edge import EdgeConfig, EdgeGateway

    _logging()
    try:
        gateway = EdgeGateway(EdgeConfig.load(config))
    except (ValidationError, ValueError, OSError) as e:
        err.print(f"{config}: {e}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    console.print(f"edge gateway: {len(gateway.adapters)} field adapter(s), spool {gateway.config.spool.dir}, "
                  f"uplink {gateway.config.uplink.url}")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(gateway.run_forever())


@app.command()
def report(scope: Annotated[str, typer.Option("--scope", help="code or id of the enterprise, park or region")],
           period: Annotated[str, typer.Option("--period", help="2026-11-24 (day), 2026-W48 (week) or 2026-11 "
                                                                "(month)")],
           lang: Annotated[str, typer.Option("--lang", help="zh or en")] = "zh",
           data_dir: DataDir = None) -> None:
    """Write a periodic report (HTML and PDF) of an org and period, as on a schedule."""
    from hazwatch.app import build
    from hazwatch.domain.errors import ServiceError

    services = build(settings_for(data_dir))
    try:
        tree = services.orgs.current()
        node = tree.by_code(scope) or (tree.nodes.get(int(scope)) if scope.isdigit() else None)
        if node is None:
            err.print(f"[red]error:[/red] no org {scope!r}")
            raise typer.Exit(2)
        r = services.reports.generate(node.id, period, lang, cli_actor().name)
    except ServiceError as e:
        err.print(f"[red]error:[/red] {e.message}")
        raise typer.Exit(2) from None
    finally:
        services.store.close()
    for kind in ("pdf", "html"):
        console.print(str(services.reports.path(r, kind)))


@app.command()
def openapi(output: Annotated[Path | None, typer.Option("--output", "-o")] = None) -> None:
    """Print (or write) the OpenAPI document of the HTTP API."""
    from hazwatch.api import create_api

    text = json.dumps(create_api().openapi(), ensure_ascii=False, indent=2) + "\n"
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    app()
