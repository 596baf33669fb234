"""The console's acceptance, in a real browser against a running demo."""

from __future__ import annotations

import shutil
import subprocess
import time

import httpx
import pytest

from tests.conftest import eventually
from tests.e2e.conftest import PASSWORD, need, open_console

pytestmark = pytest.mark.slow


def _quiet_sensor(admin: httpx.Client, enterprise: str, skip: tuple[str, ...] = ()) -> dict:
    """A sensor of the enterprise with an HH limit, no on-delay and no alarm now."""
    busy = {a["sensor"] for a in admin.get("/alarms", params={"state": "all"}).json()["items"]
            if a["active"] or not a["acknowledged"]}
    return next(s for s in admin.get("/sensors").json()["items"]
                if s["enterprise"] == enterprise and s["limits"].get("HH") is not None and s["tag"] not in busy
                and s["tag"] not in skip and not s["on_delay_s"]
                and s["range_high"] is not None and s["range_high"] > s["limits"]["HH"])


def _raise_hh(admin: httpx.Client, s: dict) -> dict:
    value = (s["limits"]["HH"] + s["range_high"]) / 2
    # a second ahead of the simulator, which feeds the same sensor every second: a reading it sends in
    # the moment between this clock read and the post would otherwise be newer, and ours would be
    # stored without moving the live alarm state
    r = admin.post("/telemetry", json={"sensor": [s["tag"]], "ts": [time.time() + 1], "value": [value]})
    assert r.json()["accepted"] == 1
    alarm = eventually(lambda: next((a for a in admin.get("/alarms", params={"state": "all"}).json()["items"]
                                     if a["sensor"] == s["tag"] and a["condition"] == "HH"), None), 60)
    assert alarm, f"no HH alarm on {s['tag']}"
    return alarm


def test_login_live_alarm_and_acknowledge(browser, demo, admin):
    page = open_console(browser, demo, "operator@E-TANK")
    s = _quiet_sensor(admin, "E-TANK")
    alarm = _raise_hh(admin, s)
    row = page.locator(f"#alarms tr[data-id='{alarm['id']}']")
    row.wait_for(timeout=10_000)  # pushed over the WebSocket: no reload
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    row.locator("button[data-act=ack]").click()
    page.fill(".dialog-row input[name=comment]", "field operator sent")
    # Another alarm arrives while the operator types: the table re-renders, the dialog and its text stay.
    other = _raise_hh(admin, _quiet_sensor(admin, "E-TANK", skip=(s["tag"],)))
    page.locator(f"#alarms tr[data-id='{other['id']}']").wait_for(timeout=10_000)
    assert page.input_value(".dialog-row input[name=comment]") == "field operator sent"
    assert page.evaluate("""document.querySelector(".dialog-row").previousElementSibling.dataset.id""") \
        == str(alarm["id"])
    page.click(".dialog-row button[type=submit]")
    page.wait_for_function(f"""() => {{ const r = document.querySelector("#alarms tr[data-id='{alarm['id']}']");
                                return !r || r.dataset.state.endsWith('_acknowledged')
                                       || r.dataset.state === 'normal'; }}""", timeout=10_000)
    assert admin.get(f"/alarms/{alarm['id']}").json()["acknowledged"] is True
    journal = admin.get(f"/alarms/{alarm['id']}/journal").json()["items"]
    assert any(e["event"] == "acknowledged" and e["comment"] == "field operator sent"
               and e["actor"] == "operator@E-TANK" for e in journal)
    assert page.errors == []


def test_trend_opens_and_zooms(browser, demo, admin):
    page = open_console(browser, demo, "operator@E-TANK")
    page.goto(demo + "/console/#/trend/TK103-LT,TK108-LT?range=1h")
    page.wait_for_selector("#chart canvas")
    info = page.locator("#trend-info")
    start, end = float(info.get_attribute("data-start")), float(info.get_attribute("data-end"))
    assert end - start == pytest.approx(3600, abs=1)
    assert page.locator(".u-legend .u-series").count() == 3  # time and both sensors
    box = page.locator("#chart .u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.80, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.95, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    page.wait_for_function(f"() => Number(document.querySelector('#trend-info').dataset.start) > {start + 60}")
    z0, z1 = float(info.get_attribute("data-start")), float(info.get_attribute("data-end"))
    assert start < z0 < z1 < end and (z1 - z0) < 0.2 * (end - start)
    assert "start=" in page.evaluate("location.hash")
    page.click("[data-range='30d']")
    page.wait_for_function("() => Number(document.querySelector('#trend-info').dataset.step) > 1000")
    assert page.errors == []


def test_a_short_trend_follows_the_live_stream(browser, demo):
    page = open_console(browser, demo, "operator@E-TANK")
    page.goto(demo + "/console/#/trend/TK101-LT?range=15m")
    page.wait_for_selector("#chart canvas")
    n = int(page.locator("#trend-info").get_attribute("data-points"))
    page.wait_for_function(f"() => Number(document.querySelector('#trend-info').dataset.points) >= {n + 2}",
                           timeout=10_000)  # the demo sends a reading a second
    assert page.errors == []


def test_language_switch(browser, demo):
    page = open_console(browser, demo, "operator@E-TANK", lang="en")
    nav = page.locator("#nav a[href='#/alarms']")
    assert nav.inner_text() == "Alarms"
    page.click("#lang")
    page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
    assert nav.inner_text() == "报警" and page.locator("#view h1").inner_text() == "当前报警与未确认报警"
    page.click("#lang")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert nav.inner_text() == "Alarms"


def test_a_viewer_cannot_acknowledge(browser, demo, admin):
    org = next(o["id"] for o in admin.get("/orgs").json()["items"] if o["code"] == "E-TANK")
    name = f"viewer-{int(time.time() * 1000)}@E-TANK"
    assert admin.post("/users", json={"username": name, "password": PASSWORD, "role": "viewer",
                                      "org": org}).status_code == 201
    page = open_console(browser, demo, name)
    page.wait_for_selector("#alarms tr[data-id]", timeout=60_000)
    assert page.locator("#readonly").is_visible()
    assert page.locator("#alarms button[data-act]").count() == 0
    token = page.evaluate("sessionStorage.getItem('hz.token')")
    alarm = page.locator("#alarms tr[data-id]").first.get_attribute("data-id")
    r = httpx.post(f"{demo}/api/v1/alarms/{alarm}/ack", json={}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403


def test_an_enterprise_user_never_sees_another_enterprise(browser, demo, admin):
    # the other enterprise has alarms the tank farm must not see (its faults start 15 s into the cycle)
    assert eventually(lambda: any(a["enterprise"] == "E-FINE"
                                  for a in admin.get("/alarms", params={"state": "all"}).json()["items"]), 60)
    page = open_console(browser, demo, "operator@E-TANK")
    page.wait_for_selector("#alarms tr[data-id]", timeout=60_000)
    page.wait_for_timeout(3000)  # let live updates arrive too
    rows = page.eval_on_selector_all("#alarms tr[data-id]", "rs => rs.map(r => r.dataset.enterprise)")
    assert set(rows) == {"E-TANK"}
    page.goto(demo + "/console/#/live")
    page.wait_for_selector("#live tbody tr")
    cells = page.eval_on_selector_all("#live tbody tr td:nth-child(2)", "c => c.map(x => x.textContent)")
    assert set(cells) == {"E-TANK"}
    page.goto(demo + "/console/#/overview")
    page.wait_for_selector(".tree li")
    assert page.eval_on_selector_all(".tree li[data-org]", "l => l.map(x => x.dataset.org)") == ["E-TANK"]
    devices = page.eval_on_selector_all(".tree li[data-device]", "l => l.map(x => x.dataset.device)")
    own = {d["code"] for d in admin.get("/catalog").json()["devices"] if d["org"] == "E-TANK"}
    assert devices and set(devices) <= own, devices


def test_a_record_verifies_in_the_browser(browser, demo, admin):
    # an alarm of its own: the demo's park may not have raised one on E-TANK yet (a worker of a
    # parallel run can start this module with this test)
    alarm = _raise_hh(admin, _quiet_sensor(admin, "E-TANK"))
    row = admin.get(f"/alarms/{alarm['id']}/journal").json()["items"][0]["id"]
    page = open_console(browser, demo, "operator@E-TANK")
    for _ in range(100):  # the row is sealed and cosigned within a few seconds
        if admin.get(f"/alarms/{alarm['id']}/journal/{row}/proof").status_code == 200:
            break
        time.sleep(0.2)
    page.goto(demo + "/console/#/ledger")
    page.fill("#verify input[name=alarm]", str(alarm["id"]))
    page.fill("#verify input[name=row]", str(row))
    page.click("#verify button")
    page.wait_for_function("() => document.querySelector('#verdict').textContent.length > 0")
    verdict = page.locator("#verdict").inner_text()
    assert verdict.startswith("Verified") and "park.demo.hazwatch/witness" in verdict, verdict
    assert f'"id": {row}' in page.locator("#record").inner_text()
    assert page.errors == []


def test_chinese_renders_as_text_not_boxes(browser, demo, tmp_path):
    """Missing glyphs all draw as the same box: two different Chinese words of equal length would
    then be identical images. They must differ, and the page's screenshot is kept as evidence."""
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout \
        if shutil.which("fc-list") else ""
    need("a Chinese font (apt-get install fonts-wqy-microhei)", "WenQuanYi" in fonts)
    page = open_console(browser, demo, "operator@E-TANK", lang="zh")
    assert page.locator("#nav a[href='#/alarms']").inner_text() == "报警"
    a = page.locator("#nav a[href='#/alarms']").screenshot()  # 报警
    b = page.locator("#nav a[href='#/trend']").screenshot()  # 趋势
    assert a != b
    page.screenshot(path=str(tmp_path / "console-zh.png"))
    assert page.evaluate("document.fonts.check('14px \"WenQuanYi Micro Hei\"', '报警')")


def test_the_pack_dashboard_shows_the_packs_own_sensors_live(browser, demo, admin):
    page = open_console(browser, demo, "operator@E-ALU")
    page.click("#nav a[href='#/packs']")
    casting = page.locator(".pack[data-pack='deep-well-casting'][data-org='E-ALU']")
    casting.wait_for(timeout=10_000)
    install = next(i for i in admin.get("/packs/installs", params={"org": "E-ALU"}).json()["items"]
                   if i["pack"] == "deep-well-casting")
    cooling = install["dashboard"][0]
    assert cooling["title"] == "Cooling water" and cooling["tags"]
    panel = casting.locator("section.panel", has_text="Cooling water")
    assert [t.split()[0] for t in panel.locator("tbody td:first-child").all_inner_texts()] == cooling["tags"]
    assert "E-ALU-W1-U-CW (not fitted yet" in casting.inner_text()
    # the values move with the live stream, without a reload
    cell = panel.locator(f"td[id='v-{cooling['tags'][0]}']")
    first = cell.inner_text()
    page.wait_for_function(f"""() => document.getElementById('v-{cooling['tags'][0]}').textContent !== {first!r}""",
                           timeout=10_000)
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    # another enterprise's packs are not shown to this operator
    assert page.locator(".pack[data-org='E-TANK']").count() == 0
    assert page.errors == []
