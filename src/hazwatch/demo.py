"""`hazwatch demo`: the embedded server fed by the park simulator, with alarms printed as they change."""

from __future__ import annotations

import asyncio
import os
import queue
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import uvicorn
from rich.console import Console

from hazwatch.access import Access
from hazwatch.api.witness import create_witness_api
from hazwatch.app import build, serve
from hazwatch.auth import Principal, Scope
from hazwatch.catalog.schema import CatalogDoc, EndpointDoc, OrgDoc, UnitDoc
from hazwatch.detect.multivariate import fit_model
from hazwatch.domain.events import ALARM_CHANGED, INCIDENT_CHANGED
from hazwatch.ledger.keys import load_signer
from hazwatch.ledger.note import COSIGNATURE_V1
from hazwatch.ledger.witness import Witness
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
              ("supervisor", "E-TANK"), ("operator", "E-ALU"))


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


@dataclass
class DemoWitness:
    name: str
    url: str
    vkey_file: Path
    server: uvicorn.Server


def start_witnesses(settings: Settings) -> list[DemoWitness]:
    """The demo's two witnesses, the park's and the regulator's, each a real C2SP witness with its
    own key and state file, serving HTTP on loopback beside the server (in production each runs
    `hazwatch witness serve` on its own machine). Adds them to settings.ledger_witnesses."""
    log_key = load_signer(settings.ledger_key or settings.ledger_path / "log.key", create_as=settings.ledger_origin)
    home = settings.data_dir / "witnesses"
    home.mkdir(parents=True, exist_ok=True)
    (settings.ledger_path / "log.vkey").write_text(log_key.verifier.vkey + "\n")
    out = []
    for name in ("park", "regulator"):
        key = load_signer(home / f"{name}.key", create_as=f"{name}.demo.hazwatch/witness", sig_type=COSIGNATURE_V1)
        vkey_file = home / f"{name}.vkey"
        vkey_file.write_text(key.verifier.vkey + "\n")
        with socket.socket() as s:  # a free loopback port
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        api = create_witness_api(Witness(key, [log_key.verifier], home / f"{name}.state.json"))
        server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning",
                                               access_log=False))
        threading.Thread(target=server.run, name=f"witness-{name}", daemon=True).start()
        url = f"http://127.0.0.1:{port}"
        settings.ledger_witnesses = [*settings.ledger_witnesses, f"{url} {key.verifier.vkey}"]
        out.append(DemoWitness(name, url, vkey_file, server))
    return out


# The park's third enterprise is built the way an integrator would build it: by applying packs;
# the other two get a unit each from a pack beside what they were described with.
PACK_ENTERPRISE = OrgDoc(code="E-ALU", name="Haixin Aluminium Casting Co.", kind="enterprise", parent="P-CHEM")
# The casting shop's PLC, registered by the installation's administrator before the casting pack
# names its quick-cut gates there: a pack (or any tenant) writes only to a registered endpoint.
DEMO_ENDPOINTS = [EndpointDoc(code="PLC-ALU-CAST", name="Casting shop PLC (Modbus TCP)", org="E-ALU",
                              address="modbus://127.0.0.1:5020")]
DEMO_PACKS = (
    ("E-ALU", "deep-well-casting", {"shop": "Casting shop", "wells": [
        {"well": f"W{n}", "flow_ll": 150, "flow_l": 200, "pressure_l": 0.15, "temp_h": 45,
         "gate": f"modbus://127.0.0.1:5020/1/{100 + n}"} for n in (1, 2)]}),
    ("E-ALU", "dust-explosion", {"workshop": "Billet sawing and polishing", "dust": "aluminium", "collectors": [
        {"dc": f"DC0{n}", "dp_l": 0.3, "dp_h": 1.8, "temp_h": 70} for n in (1, 2)]}),
    ("E-TANK", "tank-farm", {"area": "Tank area B (methanol)", "tanks": [
        {"tank": f"TK20{n}", "range_m": 20, "ll_m": 0.5, "l_m": 1.0, "h_m": 17.0, "hh_m": 18.5} for n in (1, 2)],
        "combustible_detectors": ["GT401", "GT402", "GT403"],
        "voting_groups": [{"group": "B", "a": "GT401", "b": "GT402", "c": "GT403"}],
        "toxic_detectors": ["AT501"], "toxic_gas": "Methanol", "toxic_l1": 25, "toxic_l2": 50}),
    ("E-FINE", "gas-detection", {"area": "Ammonia compressor house", "area_code": "NH3", "tag_prefix": "NH3-",
                                 "toxic_detectors": [{"tag": "AT01", "gas": "Ammonia", "l1": 20, "l2": 40,
                                                      "range": 100}]}),
)


def prepare(settings: Settings) -> tuple[Services, CatalogDoc, list[DemoWitness]]:
    """The demo installation before it serves: witnesses, services, the park's catalog (two
    enterprises described directly, a third made from packs)."""
    witnesses = start_witnesses(settings) if settings.ledger_enabled else []
    services = build(settings)
    doc = park_catalog()
    doc.units = [reactor_unit(doc)]
    # as an administrator would: audited, so the catalog's history goes into the ledger too
    admin = Access(services, Principal(None, "demo", "admin", None))
    admin.apply_catalog(doc.model_copy(update={"orgs": [*doc.orgs, PACK_ENTERPRISE],
                                               "endpoints": [*doc.endpoints, *DEMO_ENDPOINTS]}), "demo park")
    for org, name, params in DEMO_PACKS:
        admin.packs.apply(name, org, params, dry_run=False)
    return services, services.catalog.export(), witnesses


def off_writer(handler: Callable[[str, object], None]) -> Callable[[str, object], None]:
    """The handler, run on a printing thread of its own: the bus calls it on the writer thread,
    which must not wait for a terminal (the demo's alarm lines are for a person, not the hot path)."""
    events: queue.SimpleQueue = queue.SimpleQueue()

    def run() -> None:
        while True:
            subject, event = events.get()
            try:
                handler(subject, event)
            except Exception:  # noqa: BLE001 - a line that cannot print must not end the others
                continue

    threading.Thread(target=run, name="demo-console", daemon=True).start()
    return lambda subject, event: events.put((subject, event))


def run_demo(settings: Settings, duration: float, console: Console) -> None:
    services, doc, witnesses = prepare(settings)
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

    services.bus.subscribe(ALARM_CHANGED, off_writer(show))
    services.bus.subscribe(INCIDENT_CHANGED, off_writer(show_incident))
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"[bold]Hazwatch demo[/]: {len(doc.sensors)} sensors in a simulated chemical park, 1 reading/s "
                  f"each; faults raise alarms within the first minute. Stops after {duration:g} s.")
    console.print(f"  Packs    {', '.join(f'{name} on {org}' for org, name, _ in DEMO_PACKS)} (hazwatch pack show "
                  f"NAME; console: Packs); {PACK_ENTERPRISE.code} ({PACK_ENTERPRISE.name}) is made of packs alone",
                  highlight=False)
    console.print(f"           after 20 minutes (--duration 1800), fit the casting pack's cooling-water detectors on "
                  "what it recorded:"
                  f"\n           curl -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d "
                  f"'{{\"org\": \"{PACK_ENTERPRISE.code}\"}}' {base}/api/v1/packs/deep-well-casting/fit",
                  highlight=False)
    console.print(f"  Console  {base}/console/   (log in as one of the users below)")
    console.print(f"  API      {base}/api/v1   (OpenAPI document: {base}/openapi.json)")
    console.print(f"  Log in   Authorization: Bearer {token}   (the installation's admin)")
    console.print(f"  Users    {', '.join(users)}   password {DEMO_PASSWORD!r}, each seeing only its own scope:")
    console.print(f"           curl -d 'grant_type=password&username={users[0]}&password={DEMO_PASSWORD}' "
                  f"{base}/api/v1/auth/token")
    console.print(f"  Try      curl -H 'Authorization: Bearer {token}' '{base}/api/v1/alarms?state=active'")
    console.print(f"           curl -H 'Authorization: Bearer {token}' '{base}/api/v1/incidents?state=open'")
    console.print(f"  Data     {settings.data_dir.resolve()}")
    if witnesses:
        log_vkey = settings.ledger_path / "log.vkey"
        names = " and the ".join(w.name for w in witnesses)
        console.print(f"  Ledger   {base}/ledger/checkpoint, cosigned by the {names} "
                      f"witnesses ({', '.join(w.url for w in witnesses)}); a regulator checks an alarm record "
                      "offline with:", highlight=False)
        console.print(f"           hazwatch ledger prove --data-dir {settings.data_dir} --record alarm_journal:1 "
                      "-o alarm.tlog-proof", highlight=False)
        console.print(f"           hazwatch ledger fetch {base}/ledger mirror/", highlight=False)
        console.print("           hazwatch ledger verify --proof alarm.tlog-proof --tiles mirror/ "
                      f"--log-vkey {log_vkey} " + " ".join(f"--witness-vkey {w.vkey_file}" for w in witnesses),
                      highlight=False)
    sim = ParkSimulator(doc)
    serve(services, settings.host, settings.port, background=lambda s: feed(s, sim), duration_s=duration)
    console.print(f"demo stopped after {duration:g} s")
