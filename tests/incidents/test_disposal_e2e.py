"""End to end on the simulated park: a gas leak drives GT305 over HH, an incident opens with the
toxic-release plan's tasks, nobody acknowledges and it climbs to the shift supervisor, a real
webhook receiver and a real SMTP server get the notifications, an operator confirms the plan's
interlock write to a real OPC UA server and the readback matches, the incident is closed, and the
close-out PDF holds the timeline."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import threading

import orjson
import pytest
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from hazwatch.catalog.schema import EndpointDoc, InterlockDoc, PlanDoc, StepDoc, TierDoc, TriggerDoc
from hazwatch.sim.opcua_server import serve_park
from hazwatch.sim.park import park_catalog
from hazwatch.sim.plant import ParkSimulator
from tests.conftest import TOKEN, build_services, eventually, make_settings
from tests.incidents.helpers import Mailbox, ShiftedClock, Webhook, add_user, free_port

SECRET = "hook-secret-7f3a"
API = "/api/v1"


async def _read_node(endpoint: str, node: str) -> float:
    from asyncua import Client

    async with Client(endpoint, timeout=5) as c:
        return float(await c.get_node(node).read_value())


@pytest.fixture
def opcua_valve():
    """A real OPC UA server with a writable valve position XV305 (open = 1)."""
    port = free_port()
    ready = threading.Event()
    box: dict = {}
    loop = asyncio.new_event_loop()
    doc = park_catalog()
    small = doc.model_copy(update={"sensors": [s for s in doc.sensors if s.tag == "GT305"]})

    def run() -> None:
        asyncio.set_event_loop(loop)
        box["stop"] = asyncio.Event()

        def up(endpoint: str) -> None:
            box["endpoint"] = endpoint
            ready.set()

        loop.run_until_complete(serve_park(small, port, ready=up, stop=box["stop"], actuators={"XV305": 1.0}))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert ready.wait(30), "OPC UA server did not start"
    yield box["endpoint"]
    loop.call_soon_threadsafe(box["stop"].set)
    t.join(10)


def test_gas_leak_to_closed_incident(tmp_path, opcua_valve):
    hook, mail = Webhook().start(), Mailbox().start()
    node = f"{opcua_valve}#ns=2;s=XV305"
    try:
        settings = make_settings(tmp_path, webhook_secret=SECRET, smtp_host="127.0.0.1", smtp_port=mail.port,
                                 incident_tick_s=3600,  # the test ticks the desk itself
                                 outbound_allow=["127.0.0.1/32"])  # the webhook receiver runs on loopback
        services = build_services(settings, None)
        doc = park_catalog()
        toxic = PlanDoc(code="SP-TOXIC", name="Hazardous chemical release", layer="specific", org="P-CHEM",
                        hazard_types=["toxic_release"],
                        tiers=[TierDoc(name="duty operator", role="operator", minutes=5),
                               TierDoc(name="shift supervisor", role="supervisor", minutes=10),
                               TierDoc(name="safety manager", role="enterprise_admin", minutes=15)],
                        steps=[StepDoc(title="Evacuate downwind of the leak", role="operator", due_min=3),
                               StepDoc(title="Close isolation valve XV-305", role="supervisor", due_min=5,
                                       interlock=InterlockDoc(target=node, value=0))])
        gas = TriggerDoc(code="TR-GAS-HH", name="Gas leak", org="P-CHEM", conditions=["HH"],
                         sensor_kinds=["combustible_gas", "toxic_gas"], major_hazard_only=True)
        doc = doc.model_copy(update={"plans": [p for p in doc.plans if p.code != "SP-TOXIC"] + [toxic],
                                     "incident_triggers": [gas],
                                     "endpoints": [EndpointDoc(code="OPC-TANK", name="Tank farm DCS", org="E-TANK",
                                                               address=opcua_valve)]})
        services.catalog.apply(doc, "park")
        services.pipeline.reload_catalog()
        clock = ShiftedClock()
        services.incidents.clock = services.notifier.clock = clock
        op = add_user(services, "op-zhang", "operator", "E-TANK")
        sup = add_user(services, "sup-li", "supervisor", "E-TANK")
        viewer = add_user(services, "view-wang", "viewer", "E-TANK")
        desk, notifier = services.incidents, services.notifier

        with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            assert client.put(f"{API}/me/notification-preferences", headers=op, json={
                "channels": ["in_app", "webhook"], "webhook_url": hook.url}).status_code == 200
            assert client.put(f"{API}/me/notification-preferences", headers=sup, json={
                "channels": ["in_app", "email"], "email": "sup-li@plant.example"}).status_code == 200

            # the park runs; the leak ramps GT305 past HH (50 %LEL) after about 30 s of its cycle
            sim, t0 = ParkSimulator(doc), clock.now_us() - 60_000_000
            for k in range(42):
                tags, ts, values, _q = sim.step(float(k), t0 + k * 1_000_000)
                r = client.post(f"{API}/telemetry", json={"sensor": tags, "ts": (ts / 1e6).tolist(),
                                                          "value": values.tolist()})
                assert r.status_code == 200, r.text

            def hh_active():
                return [a for a in client.get(f"{API}/alarms").json()["items"]
                        if a["sensor"] == "GT305" and a["condition"] == "HH"]
            assert eventually(hh_active), "GT305 HH was not raised"

            # the trigger opens one incident on tank area A with the toxic-release plan's tasks
            desk.call(desk.tick).result()
            incidents = client.get(f"{API}/incidents").json()["items"]
            assert len(incidents) == 1
            inc = incidents[0]
            assert (inc["enterprise"], inc["location"], inc["hazard_type"]) == ("E-TANK", "HS-TANK-A", "toxic_release")
            assert "SP-TOXIC" in inc["plans"] and inc["tier"] == "duty operator"
            detail = client.get(f"{API}/incidents/{inc['id']}").json()
            titles = [t["title"] for t in detail["tasks"]]
            assert {"Evacuate downwind of the leak", "Close isolation valve XV-305"} <= set(titles)
            assert any(a["sensor"] == "GT305" and a["condition"] == "HH" for a in detail["alarms"])
            assert detail["clocks"][0]["level"] == "county" and detail["clocks"][0]["status"] == "running"
            # a second tick does not open it twice; the other alarms of tank area A join it instead
            desk.call(desk.tick).result()
            assert len(client.get(f"{API}/incidents").json()["items"]) == 1
            joined = {(a["sensor"], a["condition"]) for a in
                      client.get(f"{API}/incidents/{inc['id']}").json()["alarms"]}
            assert {("GT305", "HH"), ("GT305", "H")} <= joined

            # the duty operator's webhook gets the opening message, signed, with its idempotency key
            notifier.dispatch()
            assert len(hook.requests) == 1
            headers, body = hook.requests[0]
            expected = hmac.new(SECRET.encode(), headers["X-Hazwatch-Timestamp"].encode() + b"." + body,
                                hashlib.sha256).hexdigest()
            assert headers["X-Hazwatch-Signature"] == f"sha256={expected}"
            sent = orjson.loads(body)
            assert sent["incident"] == inc["id"] and "opened" in sent["subject"]
            assert headers["Idempotency-Key"] == sent["id"]
            assert mail.messages == []  # the supervisor is not called yet

            # nobody acknowledges: after 5 minutes it climbs to the shift supervisor, who gets e-mail
            clock.advance(4)
            desk.call(desk.tick).result()
            assert client.get(f"{API}/incidents/{inc['id']}").json()["tier"] == "duty operator"
            clock.advance(2)
            desk.call(desk.tick).result()
            detail = client.get(f"{API}/incidents/{inc['id']}").json()
            assert detail["tier"] == "shift supervisor"
            assert any(e["kind"] == "escalated" and "shift supervisor" in e["detail"] for e in detail["timeline"])
            notifier.dispatch()
            assert eventually(lambda: mail.messages)
            rcpt, msg = mail.messages[-1]
            # the escalation and the overdue tasks that climbed with it arrive as one message
            assert rcpt == ["sup-li@plant.example"]
            assert "escalated to shift supervisor" in msg["Subject"] + msg.get_content()
            # the operator, still the lowest tier, is reminded as well
            assert any(b"escalated" in body or b"overdue" in body for _h, body in hook.requests[1:])
            hooks = [n for n in detail["notifications"] if n["channel"] == "webhook"]
            assert hooks and all(n["address"] == f"{hook.url.rsplit('/', 1)[0]}/…" for n in hooks)  # no path
            # e-mail addresses are shown to those who manage users, not to an operator
            mails = [n for n in detail["notifications"] if n["channel"] == "email"]
            assert mails and all("@" in n["address"] for n in mails)
            seen = client.get(f"{API}/incidents/{inc['id']}", headers=op).json()["notifications"]
            shown = [n["address"] for n in seen if n["channel"] == "email"]
            assert len(shown) >= len(mails) and set(shown) == {None}
            inbox = client.get(f"{API}/notifications", headers=sup).json()["items"]
            assert any("escalated" in n["subject"] for n in inbox)

            # a viewer may not write to the plant; nothing is written
            lock = detail["interlocks"][0]
            assert (lock["target"], lock["state"]) == (node, "requested")
            url = f"{API}/incidents/{inc['id']}/interlocks/{lock['id']}/confirm"
            r = client.post(url, headers=viewer)
            assert r.status_code == 403
            assert asyncio.run(_read_node(opcua_valve, "ns=2;s=XV305")) == 1.0

            # the operator confirms: written through OPC UA and read back
            r = client.post(url, headers=op)
            assert r.status_code == 200, r.text
            lock = r.json()["interlocks"][0]
            assert (lock["state"], lock["confirmed_by"], lock["readback"]) == ("written", "op-zhang", 0.0)
            assert asyncio.run(_read_node(opcua_valve, "ns=2;s=XV305")) == 0.0
            kinds = [e["kind"] for e in r.json()["timeline"]]
            assert kinds.index("interlock_confirmed") < kinds.index("interlock_written")

            # acknowledged, handled, closed
            for to in ("assessing", "responding", "contained", "closed"):
                r = client.post(f"{API}/incidents/{inc['id']}/transition", headers=sup, json={"to": to})
                assert r.status_code == 200, r.text
            closed = r.json()
            assert closed["state"] == "closed" and closed["acknowledged_by"] == "sup-li"
            assert closed["escalate_at"] is None and closed["clocks"][0]["status"] == "stopped"
            audit = client.get(f"{API}/audit", params={"action": "incident.transition"}).json()["items"]
            assert sorted(a["after"]["to"] for a in audit if a["actor"] == "sup-li") == \
                ["assessing", "closed", "contained", "responding"]

            # the close-out report: a PDF with the timeline, also served by the API
            pdf_path = settings.data_dir / "reports" / f"incident-{inc['id']}.pdf"
            assert pdf_path.exists()
            r = client.get(f"{API}/incidents/{inc['id']}/report.pdf", headers=sup)
            assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
            from pypdf import PdfReader

            text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
            assert "Timeline" in text
            for phrase in ("escalated", "interlock_written", "closed", "GT305"):
                assert phrase in text, phrase
            html = client.get(f"{API}/incidents/{inc['id']}/report.html", headers=sup)
            assert html.status_code == 200 and "<svg" in html.text and "Timeline" in html.text
    finally:
        hook.stop()
        mail.stop()
