"""The `hazwatch` command: demo, serve, catalog import/export, OpenAPI export."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hazwatch.settings import Settings

app = typer.Typer(help="Hazwatch: industrial-internet safety production platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
catalog_app = typer.Typer(help="Import and export the catalog (orgs, sites, hazard sources, devices, sensors).",
                          no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Embedded mode's files (default from "
                                                                   "HAZWATCH_DATA_DIR or .hazwatch/data)")]


def _settings(data_dir: Path | None, **overrides) -> Settings:
    s = Settings()
    if data_dir is not None:
        s.data_dir = data_dir
    for k, v in overrides.items():
        if v is not None:
            setattr(s, k, v)
    return s


def _logging() -> None:
    logging.basicConfig(level=os.environ.get("HAZWATCH_LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def serve(data_dir: DataDir = None, host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option()] = None) -> None:
    """Run the server on the stored catalog (import one first with `hazwatch catalog import`)."""
    from hazwatch.app import build
    from hazwatch.app import serve as run

    _logging()
    settings = _settings(data_dir, host=host, port=port)
    services = build(settings)
    generated = services.auth.ensure_admin(settings.admin_token)
    console.print(f"Hazwatch listening on [bold]http://{settings.host}:{settings.port}[/] "
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
    run_demo(_settings(data_dir, host=host, port=port), duration, console)


@catalog_app.command("import")
def catalog_import(file: Annotated[Path, typer.Argument(help="catalog as .yaml, .yml, .json or .csv")],
                   data_dir: DataDir = None) -> None:
    """Validate FILE and apply it whole (upsert by code and tag); a bad file changes nothing."""
    from hazwatch.app import open_database
    from hazwatch.catalog import CatalogError, CatalogRepository
    from hazwatch.catalog.io import load_file

    try:
        doc = load_file(file)
        summary = CatalogRepository(open_database(_settings(data_dir))).apply(doc, str(file))
    except CatalogError as e:
        err.print(f"[red]catalog refused, nothing applied[/] ({len(e.problems)} problem(s)):")
        for p in e.problems:
            err.print(f"  {p}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    parts = [f"{k}: {summary.created.get(k, 0)} created, {summary.updated.get(k, 0)} updated"
             for k in sorted(set(summary.created) | set(summary.updated))]
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
        text = dump_document(CatalogRepository(open_database(_settings(data_dir))).export(), fmt)
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
