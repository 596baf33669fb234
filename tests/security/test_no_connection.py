"""The server connects only to registered field endpoints and allowed outbound addresses. Real
listeners on loopback (a TCP socket, an asyncua server, a pymodbus server, an HTTP receiver, each
behind a counting tap) receive no connection from any attempt to point a sensor source, an
interlock target, a pack's gate or a webhook at them, in every spelling of the address, through the
API, the command line and packs; and a refusal reads the same whether something listens there or
not, so it cannot be used to scan ports."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from sqlalchemy import insert, select, text, update

from hazwatch.catalog.models import CatalogMeta, Sensor
from hazwatch.incidents.models import Delivery, Notification, NotificationPrefs
from tests.conftest import TOKEN
from tests.incidents.helpers import free_port
from tests.security.listeners import Listeners, spellings


@pytest.fixture(scope="module")
def listeners():
    ls = Listeners()
    yield ls
    ls.close()


def _answers(c, docs: list[tuple[str, dict]]) -> set[tuple[int, str]]:
    out = set()
    for address, doc in docs:
        r = c.post("/catalog", json=doc)
        out.add((r.status_code, json.dumps(r.json()).replace(address, "<ADDRESS>")))
    return out


def _quiet(listeners: Listeners, seconds: float = 2.0) -> None:
    time.sleep(seconds)  # the OPC UA adapter follows catalog changes within a second
    assert listeners.connections() == dict.fromkeys(listeners.connections(), 0), listeners.connections()


def test_sensor_sources_and_interlock_targets_are_refused_before_any_connection(server, listeners):
    closed = free_port()
    attempts: list[tuple[str, dict]] = []
    for kind in ("opcua", "tcp", "modbus", "http"):
        for sp in spellings(listeners.port(kind)) + spellings(closed):
            opc = f"opc.tcp://{sp}/hazwatch/#ns=2;s=XV305"
            mod = f"modbus://{sp}/1/40"
            attempts.append((opc, {"sensors": [{"tag": "X-SRC", "name": "n", "kind": "level", "unit": "m",
                                                "device": "D-EA1", "range_low": 0, "range_high": 10,
                                                "source": opc}]}))
            for target in (opc, mod):
                attempts.append((target, {"plans": [{"code": "X-P", "name": "n", "layer": "general", "org": "EA1",
                                                     "steps": [{"title": "t", "due_min": 5, "interlock": {
                                                         "target": target, "value": 1}}]}]}))
    with server.client("admin-EA1") as c:
        answers = _answers(c, attempts)
    # one answer per field (a source, a target), whatever the address and whatever listened there
    assert {status for status, _ in answers} == {422}
    assert len(answers) == 2, answers
    _quiet(listeners)


def test_a_pack_gate_is_refused_unless_registered(server, listeners):
    closed = free_port()
    answers = set()
    with server.client("admin-EA1") as c:
        for sp in spellings(listeners.port("modbus")) + spellings(closed):
            gate = f"modbus://{sp}/1/101"
            r = c.post("/packs/deep-well-casting/apply", json={"org": "EA1", "params": {"wells": [
                {"well": "W1", "flow_ll": 150, "flow_l": 200, "pressure_l": 0.15, "temp_h": 45, "gate": gate}]}})
            answers.add((r.status_code, json.dumps(r.json()).replace(gate, "<GATE>")))
    assert len(answers) == 1 and next(iter(answers))[0] == 422, answers
    _quiet(listeners)


def test_webhooks_refuse_every_spelling_of_an_inside_address(server, listeners):
    answers = set()
    with server.client("op-EA1") as c:
        for kind in ("http", "tcp"):
            for sp in spellings(listeners.port(kind)):
                url = f"http://{sp}/api/v1/users"
                r = c.put("/me/notification-preferences", json={"channels": ["in_app", "webhook"],
                                                                  "webhook_url": url})
                answers.add((r.status_code, r.json()["detail"].replace(sp.rpartition(":")[0], "<HOST>")))
    assert {s for s, _ in answers} == {422}, answers
    _quiet(listeners)


def test_stored_addresses_from_before_registration_are_never_called(server, listeners):
    """Rows written before endpoints were registered (or by hand) are checked where they are used:
    the OPC UA adapter skips a source no endpoint covers, and a webhook URL is checked again when it
    is called, its delivery showing why and nothing of any answer."""
    services = server.services
    with services.engine.begin() as conn:
        conn.execute(update(Sensor).where(Sensor.tag == "T2-EA1").values(
            source=f"opc.tcp://127.0.0.1:{listeners.port('opcua')}/hazwatch/#ns=2;s=XV305"))
        conn.execute(update(CatalogMeta).values(revision=CatalogMeta.revision + 1))
        uid = conn.execute(text("select id from users where name = 'op-EA1'")).scalar_one()
        conn.execute(insert(NotificationPrefs).values(
            user_id=uid, channels=["in_app", "webhook"], email=None, min_priority="low",
            webhook_url=f"http://127.0.0.1:{listeners.port('http')}/hook"))
        services.notifier.enqueue(conn, [(uid, "op-EA1")], "drill", "body", 3, None, time.time_ns() // 1000)
    services.pipeline.reload_catalog()
    services.notifier.dispatch()
    with services.engine.connect() as conn:
        details = conn.execute(select(Delivery.detail).join(Notification, Notification.id == Delivery.notification_id)
                               .where(Notification.channel == "webhook")).scalars().all()
    assert details and all(d.startswith("refused: ") for d in details), details
    _quiet(listeners, 3.0)


def test_the_command_line_refuses_an_unregistered_source(tmp_path, listeners):
    doc = tmp_path / "c.yaml"
    doc.write_text(json.dumps({
        "orgs": [{"code": "R9", "name": "r", "kind": "region"}, {"code": "P9", "name": "p", "kind": "park",
                                                                  "parent": "R9"},
                 {"code": "E9", "name": "e", "kind": "enterprise", "parent": "P9"}],
        "devices": [{"code": "D9", "name": "d", "org": "E9"}],
        "sensors": [{"tag": "T9", "name": "n", "kind": "level", "unit": "m", "device": "D9", "range_low": 0,
                     "range_high": 1, "source": f"opc.tcp://127.0.0.1:{listeners.port('opcua')}/x#ns=2;s=XV305"}]}))
    r = subprocess.run([sys.executable, "-m", "hazwatch.cli.main", "catalog", "import", str(doc)],
                       env={"HAZWATCH_DATA_DIR": str(tmp_path / "data"), "HAZWATCH_ADMIN_TOKEN": TOKEN,
                            "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "not at a field endpoint registered for enterprise 'E9'" in r.stdout + r.stderr
    _quiet(listeners, 1.0)
