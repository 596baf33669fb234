"""`hazwatch pack`: the shipped application packs, and applying one to an enterprise."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from hazwatch.domain.errors import ServiceError, Unavailable

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
pack_app = typer.Typer(help="Application packs: a tank farm, a gas-detection area, ... applied to an enterprise "
                            "in one command.", no_args_is_help=True)
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Embedded mode's files (default from "
                                                                   "HAZWATCH_DATA_DIR)")]


def _refused(e) -> typer.Exit:
    problems = getattr(e, "problems", None) or [str(e)]
    err.print(f"[red]pack refused, nothing applied[/] ({len(problems)} problem(s)):")
    for p in problems:
        err.print(f"  {p}", markup=False, highlight=False)
    return typer.Exit(2)


@pack_app.command("list")
def pack_list() -> None:
    """The packs shipped with Hazwatch."""
    from hazwatch.packs import shipped

    table = Table("name", "version", "industry", "title", "standards")
    for p in shipped():
        m = p.manifest
        table.add_row(m.name, m.version, m.industry, m.title, ", ".join(s.code for s in m.standards))
    console.print(table)


@pack_app.command("show")
def pack_show(name: Annotated[str, typer.Argument(help="a shipped pack's name or a pack folder")],
              org: Annotated[str, typer.Option(help="show the items as they would be for this enterprise")] = "ORG",
              params: Annotated[Path | None, typer.Option(help="YAML or JSON file of parameters")] = None) -> None:
    """A pack's standards, parameters and, rendered with the defaults (or PARAMS), every item it creates."""
    from hazwatch.packs import PackError, find, render

    try:
        pack = find(name)
        rendered = render(pack.manifest, org, _params(params))
    except (PackError, ServiceError) as e:
        raise _refused(e) from None
    m = pack.manifest
    console.print(f"[bold]{m.name} {m.version}[/]: {m.title} ({m.industry})")
    if m.description:
        console.print(m.description.strip())
    console.print("\n[bold]standards[/]")
    for s in m.standards:
        console.print(f"  {s.code}: {s.title}" + (f" ({s.applies_to})" if s.applies_to else ""))
    console.print("\n[bold]parameters[/]")
    for p in m.parameters:
        default = "required" if p.default is None else f"default {json.dumps(p.default, ensure_ascii=False)}"
        console.print(f"  {p.name} ({p.type}, {default}): {p.description}", highlight=False)
    doc = rendered.doc
    console.print(f"\n[bold]creates under {org}[/]")
    for section in ("hazard_sources", "devices", "rules", "plans", "incident_triggers"):
        for x in getattr(doc, section):
            console.print(f"  {section[:-1].replace('_', ' ')} {x.code}: {x.name}", highlight=False)
    for x in rendered.risk_points:
        factors = f"L {x.l:g} E {x.e:g} C {x.c:g}" if x.method == "lec" else f"L {x.l:g} S {x.s}"
        console.print(f"  risk point {x.name} ({x.method}: {factors})", highlight=False, markup=False)
    for d in rendered.detectors:
        console.print(f"  detector {d.code}: {d.name} ({d.method} over {', '.join(d.columns)}; fitted by "
                      "`hazwatch pack fit`)", highlight=False, markup=False)
    for x in doc.sensors:
        limits = " ".join(f"{k.upper()} {v:g}" for k in ("ll", "l", "h", "hh") if (v := getattr(x, k)) is not None)
        clause = rendered.clauses.get(x.tag, "")
        console.print(f"  sensor {x.tag} ({x.kind}, {x.range_low:g}..{x.range_high:g} {x.unit}) {limits}"
                      + (f"  [{clause}]" if clause else ""), highlight=False, markup=False)


@pack_app.command("apply")
def pack_apply(name: Annotated[str, typer.Argument(help="a shipped pack's name or a pack folder")],
               org: Annotated[str, typer.Option(help="the enterprise: its code or its id")],
               params: Annotated[Path | None, typer.Option(help="YAML or JSON file of parameters")] = None,
               dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would change; change "
                                                                      "nothing")] = False,
               data_dir: DataDir = None) -> None:
    """Create the pack's devices, sensors, rules, plans and triggers under an enterprise. Applying
    again changes nothing; an item edited since is set back to the pack's values."""
    from hazwatch.packs import PackError, apply, enterprise_code, find

    repo, audit, risk = _repo(data_dir)
    try:
        pack = find(name)
        code = enterprise_code(repo, org)
        _, summary = apply(repo, pack, code, _params(params), dry_run=dry_run, on_change=audit, risk=risk)
    except (PackError, ServiceError) as e:
        raise _refused(e) from None
    verb = "would apply" if dry_run else "applied"
    console.print(f"{verb} {pack.manifest.name} {pack.manifest.version} to {code}"
                  + ("" if dry_run else f" (catalog revision {summary.revision})"))
    _counts(summary, dry_run)


def _counts(summary, dry_run: bool) -> None:
    for k in sorted(set(summary.created) | set(summary.updated) | set(summary.unchanged)):
        console.print(f"  {k}: {summary.created.get(k, 0)} {'to create' if dry_run else 'created'}, "
                      f"{summary.updated.get(k, 0)} {'to update' if dry_run else 'updated'}, "
                      f"{summary.unchanged.get(k, 0)} unchanged")


def _repo(data_dir: Path | None):
    """The installation's catalog, the audit hook that records each change as the CLI's, and its
    risk register (with the installation's colour bands)."""
    from hazwatch.app import open_database
    from hazwatch.catalog import CatalogRepository
    from hazwatch.cli.common import catalog_audit, settings_for
    from hazwatch.domain.clock import SystemClock
    from hazwatch.risk.assess import Bands
    from hazwatch.risk.points import RiskPoints

    settings = settings_for(data_dir)
    engine = open_database(settings)
    return (CatalogRepository(engine), catalog_audit(),
            RiskPoints(engine, SystemClock(), Bands(**settings.risk_bands)))


@pack_app.command("upgrade")
def pack_upgrade(name: Annotated[str, typer.Argument(help="the newer pack: a shipped pack's name or a pack folder")],
                 org: Annotated[str, typer.Option(help="the enterprise: its code or its id")],
                 params: Annotated[Path | None, typer.Option(help="new parameters (default: those of the "
                                                                  "install)")] = None,
                 dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would change; change "
                                                                        "nothing")] = False,
                 data_dir: DataDir = None) -> None:
    """Bring an installed pack to this version. Values edited locally since the install stay; where
    the pack changed the same value, the local one stays and the conflict is listed."""
    from hazwatch.packs import PackError, enterprise_code, find, upgrade

    repo, audit, risk = _repo(data_dir)
    try:
        pack = find(name)
        code = enterprise_code(repo, org)
        result = upgrade(repo, pack, code, _params(params) if params else None, dry_run=dry_run, on_change=audit,
                         risk=risk)
    except (PackError, ServiceError) as e:
        raise _refused(e) from None
    console.print(f"{'would upgrade' if dry_run else 'upgraded'} {pack.manifest.name} on {code} from "
                  f"{result.from_version} to {result.to_version}")
    _counts(result.summary, dry_run)
    for title, lines in (("local edits kept", result.kept), ("conflicts (the local value stays)", result.conflicts),
                         ("notes", result.notes)):
        if lines:
            console.print(f"{title}:")
            for line in lines:
                console.print(f"  {line}", markup=False, highlight=False)


@pack_app.command("installed")
def pack_installed(org: Annotated[str, typer.Option(help="the enterprise: its code or its id")],
                   data_dir: DataDir = None) -> None:
    """The packs an enterprise has, at which version and with which parameters."""
    from hazwatch.packs import PackError, enterprise_code, installed

    repo, _, _ = _repo(data_dir)
    try:
        rows = installed(repo, enterprise_code(repo, org))
    except (PackError, ServiceError) as e:
        raise _refused(e) from None
    for r in rows:
        console.print(f"{r['pack']} {r['version']}  parameters {json.dumps(r['params'], ensure_ascii=False)}",
                      markup=False, highlight=False)
        for d in r["detectors"]:
            console.print(f"  detector {d['code']}: {'fitted' if d['fitted'] else 'not fitted yet'}",
                          markup=False, highlight=False)


@pack_app.command("fit")
def pack_fit(name: Annotated[str, typer.Argument(help="the installed pack: a shipped pack's name or a pack folder")],
             org: Annotated[str, typer.Option(help="the enterprise: its code or its id")],
             since: Annotated[str | None, typer.Option(help="start of the normal running to fit on: ISO 8601 or "
                                                            "epoch seconds (default: each detector's fit_hours "
                                                            "before --until)")] = None,
             until: Annotated[str | None, typer.Option(help="end of that window (default: now)")] = None,
             detector: Annotated[list[str] | None, typer.Option(help="fit only this detector (unit code); "
                                                                     "repeat for several")] = None,
             dry_run: Annotated[bool, typer.Option("--dry-run", help="fit and report; store nothing")] = False,
             data_dir: DataDir = None) -> None:
    """Fit the pack's multivariate detectors on the enterprise's stored readings and store them as
    units, watched from then on. Choose a window of normal running. In embedded mode the server
    holds the telemetry store: while it runs, use `POST /api/v1/packs/NAME/fit` instead."""
    from hazwatch.domain.clock import parse_instant
    from hazwatch.packs import PackError, enterprise_code, find, fit

    repo, audit, _ = _repo(data_dir)
    try:
        start = parse_instant(since, "--since") if since else None
        end = parse_instant(until, "--until") if until else None
        pack = find(name)
        code = enterprise_code(repo, org)
        with _store(data_dir) as store:
            fitted, summary = fit(repo, store, pack, code, start, end, detector, dry_run, audit)
    except (PackError, ServiceError) as e:
        raise _refused(e) from None
    for f in fitted:
        console.print(f"{'would fit' if dry_run else 'fitted'} {f.code}: {f.method} on {f.rows} rows x "
                      f"{len(f.columns)} sensors, threshold {f.threshold:.6g}", highlight=False)
    if not dry_run:
        console.print(f"catalog revision {summary.revision}")


@contextmanager
def _store(data_dir: Path | None):
    """The installation's telemetry store, read by this process alone: an embedded store the
    server holds open is refused with what to do instead."""
    from hazwatch.cli.common import settings_for
    from hazwatch.store import open_store

    settings = settings_for(data_dir)
    try:
        store = open_store(settings.store_url, settings.duckdb_memory_limit)
    except Exception as e:  # DuckDB's lock error has no class of its own to catch
        if "lock" not in str(e).lower():
            raise
        raise Unavailable("the telemetry store is open in the running server; fit through the API "
                          "(POST /api/v1/packs/NAME/fit) or stop the server first") from None
    try:
        yield store
    finally:
        store.close()


@pack_app.command("schema")
def pack_schema() -> None:
    """The JSON Schema of pack.yaml (docs/schema/pack.schema.json)."""
    from hazwatch.packs.manifest import json_schema

    sys.stdout.write(json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n")


def _params(path: Path | None) -> dict:
    from hazwatch.packs import PackError

    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except OSError as e:
        raise PackError([f"{path}: cannot read: {e.strerror}"]) from None
    except yaml.YAMLError as e:
        raise PackError([f"{path}: not YAML or JSON: {getattr(e, 'problem', e)}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PackError([f"{path}: parameters are a mapping of name to value"])
    return data
