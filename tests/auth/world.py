"""A multi-tenant installation for the security tests: region R with parks PA and PB, enterprises
EA1 and EA2 in PA and EB1 in PB, a device or two and a sensor per device, an HH alarm raised on
every sensor, and one user per role and org that the tests log in as."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fastapi.testclient import TestClient

from hazwatch.auth import Principal, Scope
from hazwatch.services import Services

PASSWORD = "correct horse battery"
SUBTREE = {"R": {"R", "PA", "PB", "EA1", "EA2", "EB1"}, "PA": {"PA", "EA1", "EA2"}, "PB": {"PB", "EB1"},
           "EA1": {"EA1"}, "EA2": {"EA2"}, "EB1": {"EB1"}}
SENSOR_ORG = {"T-EA1": "EA1", "T-EA1B": "EA1", "T-EA2": "EA2", "T-EB1": "EB1"}
DEVICE_ORG = {"D-EA1": "EA1", "D-EA1B": "EA1", "D-EA2": "EA2", "D-EB1": "EB1"}
SENSOR_DEVICE = {"T-EA1": "D-EA1", "T-EA1B": "D-EA1B", "T-EA2": "D-EA2", "T-EB1": "D-EB1"}


@dataclass
class World:
    services: Services
    client: TestClient  # carries the admin's token
    org_id: dict[str, int] = field(default_factory=dict)
    alarm_id: dict[str, int] = field(default_factory=dict)  # sensor tag -> its HH alarm
    tokens: dict[str, str] = field(default_factory=dict)  # user name -> access token
    user_id: dict[str, int] = field(default_factory=dict)
    user_org: dict[str, str] = field(default_factory=dict)  # user name -> org code
    credential: dict[str, tuple[int, str]] = field(default_factory=dict)  # device -> (id, secret)
    key: dict[str, tuple[int, str]] = field(default_factory=dict)  # user name -> an API key (id, key)
    incident_id: dict[str, int] = field(default_factory=dict)  # enterprise -> an incident opened there by hand
    task_id: dict[str, int] = field(default_factory=dict)  # enterprise -> a task of that incident
    interlock_id: dict[str, int] = field(default_factory=dict)  # enterprise -> an interlock write it requests
    hidden_id: dict[str, int] = field(default_factory=dict)  # enterprise -> a hidden danger reported there
    report_id: dict[str, int] = field(default_factory=dict)  # enterprise -> a periodic report of it

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def add_user(self, name: str, role: str, org: str | None) -> str:
        root = Principal(None, "test-setup", "admin", None)
        out = self.services.users.create(root, Scope(None), name, PASSWORD, role,
                                         self.org_id[org] if org else None)
        self.user_id[name] = out["id"]
        self.user_org[name] = org or "R"
        self.tokens[name] = self.services.auth.login(name, PASSWORD).access_token
        return name

    def send(self, tag: str, value: float, headers: dict | None = None) -> dict:
        r = self.client.post("/api/v1/telemetry", json={"sensor": [tag], "ts": [time.time()], "value": [value]},
                             headers=headers)
        assert r.status_code == 200, r.text
        return r.json()


def build_world(services: Services, client: TestClient) -> World:
    w = World(services, client)
    w.org_id = {o.code: o.id for o in services.orgs.current().nodes.values()}
    for tag in SENSOR_ORG:
        assert w.send(tag, 60.0)["accepted"] == 1
    alarms = client.get("/api/v1/alarms").json()["items"]
    w.alarm_id = {a["sensor"]: a["id"] for a in alarms}
    assert set(w.alarm_id) == set(SENSOR_ORG)
    root = Principal(None, "test-setup", "admin", None)
    for dev in DEVICE_ORG:
        out = services.device_credentials.issue(root, Scope(None), dev, "setup")
        w.credential[dev] = (out["id"], out["secret"])
    for org in ("EA1", "EA2", "EB1"):
        iid = services.incidents.open_by_hand(w.org_id[org], f"walk {org}", "other", 3, None, "setup").result()
        detail = services.incidents.detail(iid)
        w.incident_id[org] = iid
        w.task_id[org] = detail["tasks"][0]["id"]
        w.interlock_id[org] = detail["interlocks"][0]["id"]
        w.hidden_id[org] = services.hidden_dangers.report(w.org_id[org], None, {
            "title": f"walk {org}", "grade": "general", "found_by": "daily", "handling": "on_the_spot"}, "setup")
        w.report_id[org] = services.reports.generate(w.org_id[org], "2026-11", "en", "setup")["id"]
    return w
