"""`hazwatch demo`: the embedded server fed by the park simulator, with alarms printed as they change."""

from __future__ import annotations

import asyncio
import os
import secrets
import time

import numpy as np
from rich.console import Console

from hazwatch.app import build, serve
from hazwatch.auth import Principal, Scope
from hazwatch.catalog.schema import CatalogDoc, UnitDoc
from hazwatch.detect.multivariate import fit_model
from hazwatch.domain.events import ALARM_CHANGED, INCIDENT_CHANGED
from hazwatch.normalize import RawBatch
from hazwatch.services import Services
from hazwatch.settings import Settings
from hazwatch.sim import ParkSimulator, park_catalog


def _demo_token(settings: Settings) -> str:
    """HAZWATCH_ADMIN_TOKEN if set; otherwise one kept in the demo's data dir, so a rerun shows it again."""
    if settings.admin_token:
        return settings.admin_token.get_secret_value()
    path = settings.data_dir / "demo-token"
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token)
    os.chmod(path, 0o600)
    return token


DEMO_PASSWORD = "hazwatch-demo"
# One user per tier of the demo park, to show what each sees (names: role@org).
DEMO_USERS = (("regulator", "R-JS"), ("park_admin", "P-CHEM"), ("operator", "E-TANK"), ("operator", "E-FINE"),
              ("supervisor", "E-TANK"))


def _demo_users(services: Services) -> list[str]:
    """Create the demo's users on first start; they use a published password, so they exist only in
    the demo's own data directory."""
    tree = services.orgs.current()
    root = Principal(None, "demo", "admin", None)
    existing = {u["username"] for u in services.users.list(Scope(None))}
    names = []
    for role, org in DEMO_USERS:
        name = f"{role.replace('_', '-')}@{org}"
        node = tree.by_code(org)
        if name not in existing and node is not None:
            services.users.create(root, Scope(None), name, DEMO_PASSWORD, role, node.id, "demo")
        names.append(name)
    return names


async def feed(services: Services, sim: ParkSimulator) -> None:
    """One batch a second from the simulator, through the same pipeline as HTTP ingest."""
    start = time.monotonic()
    k = 0
    while True:
        tags, ts, values, quality = sim.step(float(k), time.time_ns() // 1000)
        raw = RawBatch(tags, services.index.lookup(tags), ts, values, quality)
        await asyncio.wrap_future(services.pipeline.ingest(raw))
        k += 1
        await asyncio.sleep(max(0.0, start + k - time.monotonic()))


def reactor_unit(doc: CatalogDoc, rx: str = "R502") -> UnitDoc:
    """A multivariate model of one reactor, fitted the way a user would (`hazwatch model fit`) on the
    simulator's quiet stretches: from 150 s into each five-minute cycle, when its faults are over."""
    sim = ParkSimulator(doc)  # the same plant as the demo feeds (its seed sets each sensor's normal level)
    tags = [f"{rx}-{p}" for p in ("TT", "PT", "LT", "FT-FEED", "FT-CW", "TT-CW", "IT")]
    cols = [sim.pos[t] for t in tags]
    runs = [np.array([sim.values_at(float(t))[0][cols] for t in range(k * 300 + 150, k * 300 + 300)])
            for k in range(8)]
    model = fit_model(runs, tags, "pca-ewma", target_far=0.001)
    return UnitDoc(code=f"U-{rx}", name=f"Reactor {rx}", org="E-FINE", hazard_source="HS-REACT",
                   model=model.to_dict(), priority="high")


def run_demo(settings: Settings, duration: float, console: Console) -> None:
    services = build(settings)
    doc = park_catalog()
    doc.units = [reactor_unit(doc)]
    services.catalog.apply(doc, "demo park")
    services.pipeline.reload_catalog()
    token = _demo_token(settings)
    services.auth.ensure_admin(token)
    users = _demo_users(services)

    def show(_subject: str, event) -> None:
        a = event.alarm
        if event.event in ("raised", "cleared"):
            colour = {"urgent": "bold red", "high": "red", "medium": "yellow"}.get(a["priority"], "cyan")
            if a["sensor"]:
                unit = {"TREND": "min to the limit", "ROC": f"{a['unit'] or ''}/min"}.get(a["condition"], a["unit"])
                value = "" if a["value"] is None else f"{a['value']:.2f} {unit or ''}"
                what = f"{a['sensor']:<14} {value}"
            elif a["rule"] or a["process_unit"]:
                what = f"{a['rule'] or a['process_unit']:<14} {'rule' if a['rule'] else 'unit anomaly'}"
            else:
                what = f"{a['device']:<14} communication lost"
            console.print(f"[{colour}]{event.event:>7}[/] {a['priority']:<6} {a['condition']:<5} {what}  "
                          f"({a['enterprise']})", highlight=False)

    def show_incident(_subject: str, event) -> None:
        i = event.incident
        what = {"opened": f"{i['title']} ({i['enterprise']}); plans {', '.join(i['plans']) or 'none'}; "
                          f"calling the {i['tier']}",
                "escalated": f"nobody acknowledged: now calling the {i['tier']}"}.get(event.event, i["title"])
        console.print(f"[bold magenta]incident #{i['id']} {event.event}[/]: {what}", highlight=False)

    services.bus.subscribe(ALARM_CHANGED, show)
    services.bus.subscribe(INCIDENT_CHANGED, show_incident)
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"[bold]Hazwatch demo[/]: {len(doc.sensors)} sensors in a simulated chemical park, 1 reading/s "
                  f"each; faults raise alarms within the first minute. Stops after {duration:g} s.")
    console.print(f"  API      {base}/api/v1   (OpenAPI document: {base}/openapi.json)")
    console.print(f"  Log in   Authorization: Bearer {token}   (the installation's admin)")
    console.print(f"  Users    {', '.join(users)}   password {DEMO_PASSWORD!r}, each seeing only its own scope:")
    console.print(f"           curl -d 'grant_type=password&username={users[0]}&password={DEMO_PASSWORD}' "
                  f"{base}/api/v1/auth/token")
    console.print(f"  Try      curl -H 'Authorization: Bearer {token}' '{base}/api/v1/alarms?state=active'")
    console.print(f"           curl -H 'Authorization: Bearer {token}' '{base}/api/v1/incidents?state=open'")
    console.print(f"  Data     {settings.data_dir.resolve()}")
    sim = ParkSimulator(doc)
    serve(services, settings.host, settings.port, background=lambda s: feed(s, sim), duration_s=duration)
    console.print(f"demo stopped after {duration:g} s")
