"""The console's files: served by Hazwatch itself with a policy that lets nothing else load, and
every text in the message catalogs of both languages."""

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from hazwatch.alarms import states
from hazwatch.api import create_api

STATIC = Path(__file__).resolve().parents[2] / "src" / "hazwatch" / "web" / "static"
CATALOGS = {lang: json.loads((STATIC / "i18n" / f"{lang}.json").read_text()) for lang in ("en", "zh")}


def test_the_console_and_its_assets_are_served_locally():
    c = TestClient(create_api())
    r = c.get("/", follow_redirects=False)
    assert r.status_code in (302, 307) and r.headers["location"] == "/console/"
    page = c.get("/console/")
    assert page.status_code == 200 and "app.js" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "http" not in csp
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    uplot = c.get("/console/vendor/uplot/uPlot.iife.min.js")
    assert uplot.status_code == 200 and "uPlot" in uplot.text[:2000]
    assert c.get("/console/i18n/zh.json").json()["nav.alarms"] == "报警"


def test_both_catalogs_hold_the_same_keys():
    assert set(CATALOGS["en"]) == set(CATALOGS["zh"])
    for lang, cat in CATALOGS.items():
        assert all(v.strip() for v in cat.values()), lang


def test_every_text_of_the_page_comes_from_the_catalogs():
    js = (STATIC / "app.js").read_text()
    html = (STATIC / "index.html").read_text()
    used = set(re.findall(r'\bt\("([a-z_.]+)"', js)) | set(re.findall(r'data-i18n="([a-z_.]+)"', html))
    assert used and used <= set(CATALOGS["en"]), used - set(CATALOGS["en"])
    for prefix, values in (("priority", ("urgent", "high", "medium", "low")),
                           ("colour", ("red", "orange", "yellow", "blue")),
                           ("state", (states.NORMAL, states.ACTIVE_UNACK, states.ACTIVE_ACK, states.RETURNED_UNACK,
                                      states.SHELVED, states.SUPPRESSED, states.OUT_OF_SERVICE))):
        assert {f"{prefix}.{v}" for v in values} <= set(CATALOGS["en"]), prefix
    # no words between tags in the page itself, other than the product name and the two language names
    words = [w.strip() for w in re.findall(r">([^<>]+)<", html) if w.strip() not in ("", "·")]
    assert set(words) <= {"Hazwatch", "中文", "English"}, words


def test_the_font_stack_names_common_cjk_fonts():
    css = (STATIC / "style.css").read_text()
    for font in ("PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei"):
        assert f'"{font}"' in css
