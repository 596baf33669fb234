"""Periodic reports: periods, generation on request (API and CLI) and on the schedule, PDFs that
render to a page that is not blank, and Chinese drawn with an embedded CJK font."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import text
from typer.testing import CliRunner

from hazwatch.app import make_api
from hazwatch.cli.main import app
from hazwatch.domain.batch import US
from hazwatch.domain.errors import Invalid
from hazwatch.normalize import RawBatch
from hazwatch.risk.periodic import last_finished, parse_period
from hazwatch.sim.park import park_catalog
from hazwatch.sim.plant import ParkSimulator
from tests.conftest import TOKEN, build_services, make_settings
from tests.incidents.helpers import add_user

API = "/api/v1"
TZ = "Asia/Shanghai"


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        msg = f"{name} is not installed (Debian: poppler-utils)"
        if os.environ.get("HAZWATCH_REQUIRE_SERVICES") == "1":
            pytest.fail(msg + " (HAZWATCH_REQUIRE_SERVICES=1)")
        pytest.skip(msg)
    return path


def test_periods():
    day = parse_period("2026-11-24", TZ)
    assert (day.kind, day.start.isoformat(), day.end.isoformat()) == \
        ("daily", "2026-11-24T00:00:00+08:00", "2026-11-25T00:00:00+08:00")
    week = parse_period("2026-W48", TZ)
    assert (week.kind, week.start.date().isoformat(), week.end.date().isoformat()) == \
        ("weekly", "2026-11-23", "2026-11-30")
    month = parse_period("2026-12", TZ)
    assert (month.kind, month.start.date().isoformat(), month.end.date().isoformat()) == \
        ("monthly", "2026-12-01", "2027-01-01")
    for bad in ("2026-13", "yesterday", "2026-11-31"):
        with pytest.raises((Invalid, ValueError)):
            parse_period(bad, TZ)
    now = int(datetime(2026, 11, 25, 10, tzinfo=ZoneInfo(TZ)).timestamp() * US)
    assert [last_finished(k, now, TZ).name for k in ("daily", "weekly", "monthly")] == \
        ["2026-11-24", "2026-W47", "2026-10"]


@pytest.fixture(scope="module")
def park(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("reports"), incident_tick_s=3600, tick_interval_s=3600)
    services = build_services(settings, None)
    doc = park_catalog()
    services.catalog.apply(doc, "park")
    services.pipeline.reload_catalog()
    sim = ParkSimulator(doc)
    t0 = time.time_ns() // 1000 - 900 * US
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for k in range(0, 900, 3):
            tags, ts, values, quality = sim.step(float(k), t0 + k * US)
            services.pipeline.ingest(RawBatch(tags, services.index.lookup(tags), ts, values, quality)).result()
        yield services, client


def _today() -> str:
    return datetime.now(ZoneInfo(TZ)).date().isoformat()


def _not_blank(pdf: bytes, tmp_path) -> Image.Image:
    pdftoppm = require_tool("pdftoppm")
    src = tmp_path / "r.pdf"
    src.write_bytes(pdf)
    subprocess.run([pdftoppm, "-r", "50", "-png", "-f", "1", "-l", "1", str(src), str(tmp_path / "page")], check=True)
    page = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    dark = page.histogram()[:128]  # pixels darker than mid-grey
    dark = sum(dark) / (page.width * page.height)
    assert 0.005 < dark < 0.5, dark  # text and charts, not an empty or a black page
    return page


def test_a_report_on_request_renders_to_a_page(park, tmp_path):
    services, client = park
    pa = add_user(services, "pa-report", "park_admin", "P-CHEM")
    r = client.post(f"{API}/reports", headers=pa, json={"scope": "P-CHEM", "period": _today(), "lang": "en"})
    assert r.status_code == 201, r.text
    rep = r.json()
    assert (rep["scope"], rep["kind"], rep["lang"], rep["created_by"]) == ("P-CHEM", "daily", "en", "pa-report")
    pdf = client.get(f"{API}/reports/{rep['id']}/pdf", headers=pa)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    _not_blank(pdf.content, tmp_path)
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    for part in ("Safety report: Coastal Chemical Industry Park", "Alarm system", "Top offenders",
                 "Enterprise risk colours", "E-TANK", "Hidden dangers", "Incident response"):
        assert part in text, part
    html = client.get(f"{API}/reports/{rep['id']}/html", headers=pa)
    assert html.status_code == 200 and html.text.count("<svg") == 6
    # an operator of one enterprise sees neither the park's report nor may ask for one
    op = add_user(services, "op-report", "operator", "E-TANK")
    assert client.get(f"{API}/reports/{rep['id']}/pdf", headers=op).status_code == 404
    assert client.get(f"{API}/reports", headers=op).json()["count"] == 0
    assert client.post(f"{API}/reports", headers=op, json={"scope": "E-TANK", "period": _today()}).status_code == 403
    bad = client.post(f"{API}/reports", json={"scope": "P-CHEM", "period": "last week"})
    assert bad.status_code == 422 and "not a day" in bad.json()["detail"]


def test_chinese_reports_embed_a_cjk_font(park, tmp_path):
    services, client = park
    r = client.post(f"{API}/reports", json={"scope": "E-TANK", "period": _today(), "lang": "zh"})
    assert r.status_code == 201, r.text
    pdf = client.get(f"{API}/reports/{r.json()['id']}/pdf").content
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(p.extract_text() for p in reader.pages)
    assert "安全生产报告" in text and "报警系统" in text and "每小时报警数" in text
    assert "HS-TANK-A 为3级重大危险源" in text  # the colours' reasons in Chinese too
    embedded = set()
    for page in reader.pages:
        for f in page["/Resources"]["/Font"].values():
            f = f.get_object()
            descriptor = f.get("/FontDescriptor")
            if descriptor is not None and "/FontFile2" in descriptor.get_object():
                embedded.add(str(f["/BaseFont"]))
    # the CJK font (a subset of it) travels inside the file, so the glyphs show wherever it is opened
    assert any("WenQuanYi" in f or "Noto" in f for f in embedded), embedded
    _not_blank(pdf, tmp_path)


def _scheduled(tmp_path, installed_days_ago: float):
    settings = make_settings(tmp_path, report_schedule=["daily", "monthly"], report_scope_kinds=["park"],
                             report_language="en")
    services = build_services(settings, None)
    services.catalog.apply(park_catalog(), "park")
    services.pipeline.reload_catalog()
    with services.engine.begin() as conn:  # when the installation began: its first user's creation
        conn.execute(text("UPDATE users SET created_at = :t"),
                     {"t": int((time.time() - installed_days_ago * 86400) * US)})
    return services


def test_a_new_installation_owes_no_reports_for_periods_before_it(tmp_path):
    services = _scheduled(tmp_path, installed_days_ago=0)
    assert services.reports.tick() == 0 and services.reports.list(None) == []


def test_the_schedule_writes_each_finished_period_once(tmp_path):
    services = _scheduled(tmp_path, installed_days_ago=62)  # yesterday and last month were owed
    # one report a tick: a server that owes many catches up over its first seconds, not in one burst
    assert [services.reports.tick() for _ in range(3)] == [1, 1, 0]
    made = {(r["scope"], r["kind"], r["created_by"]) for r in services.reports.list(None)}
    assert made == {("P-CHEM", "daily", "schedule"), ("P-CHEM", "monthly", "schedule")}
    assert all(services.reports.path(r, "pdf").exists() for r in services.reports.list(None))


def test_cli_report(park):
    services, _ = park
    r = CliRunner().invoke(app, ["report", "--scope", "E-FINE", "--period", _today()[:7], "--lang", "en",
                                 "--data-dir", str(services.settings.data_dir)])
    assert r.exit_code == 0, r.output
    pdf = r.output.split()[0]
    assert pdf.endswith(f"E-FINE-{_today()[:7]}-en.pdf") and os.path.exists(pdf)
    r = CliRunner().invoke(app, ["report", "--scope", "NOPE", "--period", "2026-11",
                                 "--data-dir", str(services.settings.data_dir)])
    assert r.exit_code == 2 and "no org 'NOPE'" in r.output
