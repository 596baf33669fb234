"""A real Hazwatch server for the attack suite: the tenants of tests/data/tenants.yaml (region R,
parks PA and PB, enterprises EA1 and EA2 in PA, EB1 in PB) with every kind of catalog object in
each enterprise, served by uvicorn on a loopback port, and the users the attacks log in as.
Attacks go over HTTP as a user's client would send them; nothing reaches into the server."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from hazwatch.app import make_api
from hazwatch.catalog.io import parse_document
from hazwatch.packs import apply as apply_pack
from hazwatch.packs import find
from hazwatch.services import Services
from tests.auth.world import PASSWORD
from tests.conftest import DATA, TOKEN, build_services, make_settings
from tests.incidents.helpers import add_user, free_port

ENTERPRISES = ("EA1", "EA2", "EB1")
MODEL = {"format": "hazwatch-model/1", "method": "pca", "detector": {}, "threshold": 1.0}


def objects_of(e: str) -> dict:
    """One object of every kind in enterprise `e`, each code carrying the enterprise's."""
    tag = f"T-{e}"
    return {
        "sites": [{"code": f"S-{e}", "name": "site", "org": e}],
        "hazard_sources": [{"code": f"HS-{e}", "name": "tank area", "org": e, "site": f"S-{e}"}],
        "devices": [{"code": f"D2-{e}", "name": "panel", "org": e, "hazard_source": f"HS-{e}"}],
        "endpoints": [{"code": f"EP-OPC-{e}", "name": "DCS", "org": e,
                       "address": f"opc.tcp://dcs-{e.lower()}.example:4840"}],
        "units": [{"code": f"U-{e}", "name": "unit", "org": e, "model": MODEL | {"columns": [tag]}}],
        "rules": [{"code": f"R-{e}", "name": "rule", "org": e, "when": f"{tag} > 10"}],
        "plans": [{"code": f"GP-{e}", "name": "plan", "layer": "general", "org": e}],
        "incident_triggers": [{"code": f"TR-{e}", "name": "trigger", "org": e}],
        "sensors": [{"tag": f"T2-{e}", "name": "gas", "kind": "combustible_gas", "unit": "%LEL", "device": f"D2-{e}",
                     "range_low": 0, "range_high": 100, "hh": 50}],
    }


@dataclass
class Server:
    services: Services
    base: str
    uv: uvicorn.Server
    thread: threading.Thread
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # user -> auth headers

    def client(self, user: str | None = None, **kw) -> httpx.Client:
        headers = self.headers[user] if user else {"Authorization": f"Bearer {TOKEN}"}
        return httpx.Client(base_url=self.base + "/api/v1", headers=headers, timeout=30, **kw)

    def stop(self) -> None:
        self.uv.should_exit = True
        self.thread.join(15)


def serve(tmp: Path, **settings) -> Server:
    services = build_services(make_settings(tmp, **settings), DATA / "tenants.yaml")
    extra: dict[str, list] = {}
    for e in ENTERPRISES:
        for section, items in objects_of(e).items():
            extra.setdefault(section, []).extend(items)
    extra["endpoints"].append({"code": "PLC-EA1", "name": "casting PLC", "org": "EA1",
                               "address": "modbus://plc-ea1.example:502"})
    services.catalog.apply(parse_document(extra, "security world"), "security world")
    # a pack with detectors on EA1, so that commands naming a pack's detectors have one to name
    apply_pack(services.catalog, find("deep-well-casting"), "EA1", {"wells": [
        {"well": "W1", "flow_ll": 150, "flow_l": 200, "pressure_l": 0.15, "temp_h": 45,
         "gate": "modbus://plc-ea1.example:502/1/101"}]})
    services.pipeline.reload_catalog()
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(make_api(services), host="127.0.0.1", port=port, log_level="warning",
                                       access_log=False, proxy_headers=False))
    thread = threading.Thread(target=uv.run, name="security-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    else:
        raise AssertionError("the server did not come up")
    server = Server(services, base, uv, thread)
    for name, role, org in (("admin-EA1", "enterprise_admin", "EA1"), ("op-EA1", "operator", "EA1"),
                            ("admin-PA", "park_admin", "PA"), ("viewer-EA2", "viewer", "EA2")):
        server.headers[name] = add_user(services, name, role, org)
    return server


__all__ = ["PASSWORD", "Server", "serve"]
