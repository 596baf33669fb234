"""A pack's layouts at work: its dashboard panels and report sections name the install's own
sensors (by kind, and by tag where a panel narrows it), and the enterprise's periodic report gains
the pack's sections, each sensor with the alarms it raised in the period."""

from __future__ import annotations

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from hazwatch.catalog.schema import CatalogDoc
from hazwatch.normalize import RawBatch
from hazwatch.packs import apply, find, installed
from tests.conftest import TOKEN, build_services, make_settings
from tests.packs.test_pack_detectors import WELL
from tests.packs.test_packs import EMPTY

API = "/api/v1"


def test_panels_and_sections_name_the_installs_sensors(tmp_path):
    services = build_services(make_settings(tmp_path), None)
    services.catalog.apply(EMPTY)
    apply(services.catalog, find("deep-well-casting"), "E1", WELL)
    [install] = installed(services.catalog, "E1")
    assert install["dashboard"] == [
        {"title": "Cooling water", "tags": ["W1-FT-CW", "W1-PT-CW", "W1-TT-CW"]},
        {"title": "Casting wells and emergency water", "tags": ["W1-LT-PIT", "W1-XS-CAST", "E1-EW-LT"]}]
    assert install["report"] == [{"title": "Cooling-water alarms", "tags": ["W1-FT-CW", "W1-PT-CW", "W1-TT-CW"]},
                                 {"title": "Water in the casting wells", "tags": ["W1-LT-PIT"]}]
    # a sensor moved to another kind here leaves the panels that select by the old one
    level = next(s for s in services.catalog.export().sensors if s.tag == "W1-LT-PIT")
    services.catalog.apply(CatalogDoc(sensors=[level.model_copy(update={"kind": "other"})]))
    [install] = installed(services.catalog, "E1")
    assert install["dashboard"][1]["tags"] == ["W1-XS-CAST", "E1-EW-LT"] and install["report"][1]["tags"] == []


def test_the_enterprises_report_gains_the_packs_sections(tmp_path):
    services = build_services(make_settings(tmp_path, incident_tick_s=3600), None)
    services.catalog.apply(EMPTY)
    apply(services.catalog, find("deep-well-casting"), "E1", WELL)
    services.pipeline.reload_catalog()
    t0 = int(time.time()) - 900
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        tags = ["W1-FT-CW", "W1-PT-CW", "W1-TT-CW", "W1-LT-PIT"]
        flow = np.full(60, 400.0)
        flow[20:40] = 120.0  # cooling water lost for 20 s: below LL
        for k in range(60):
            values = [flow[k], 0.3, 35.0, 0.2]
            ts = np.full(len(tags), (t0 + k) * 1_000_000, np.int64)
            raw = RawBatch(tags, services.index.lookup(tags), ts, np.array(values), np.zeros(len(tags), np.uint8))
            services.pipeline.ingest(raw).result()
        day = datetime.fromtimestamp(t0, ZoneInfo(services.settings.report_timezone)).date().isoformat()
        r = client.post(f"{API}/reports", json={"scope": "E1", "period": day, "lang": "en"})
        assert r.status_code == 201, r.text
        html = client.get(f"{API}/reports/{r.json()['id']}/html").text
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Cooling-water alarms (pack deep-well-casting)" in text
    assert "Water in the casting wells (pack deep-well-casting)" in text
    # the flow went through L and LL once each; the pressure and temperature raised nothing
    assert re.search(r"W1-FT-CW W1 cooling-water flow 2 L 1, LL 1 ", text), text
    assert re.search(r"W1-PT-CW W1 cooling-water pressure 0 ", text)
    assert re.search(r"W1-LT-PIT W1 water level in the casting well 0 ", text)
