"""A pack's multivariate detectors: applying the casting pack records one per well; fitting it on
the enterprise's stored normal running makes it a unit the live engine watches, which then raises
an anomaly for a blocked cooling channel (flow down, pressure up, each inside its limits) that no
limit sees. A fit without the history it needs is refused naming the detector, storing nothing."""

from __future__ import annotations

import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hazwatch import offload
from hazwatch.app import make_api
from hazwatch.cli.main import app
from hazwatch.normalize import RawBatch
from hazwatch.packs import PackError, apply, find, installed, load, upgrade
from tests.conftest import TOKEN, build_services, eventually, make_settings
from tests.packs.test_packs import EMPTY, _variant

API = "/api/v1"
WELL = {"wells": [{"well": "W1", "flow_ll": 150, "flow_l": 200, "pressure_l": 0.15, "temp_h": 45,
                   "gate": "modbus://127.0.0.1:5020/1/101"}]}
TAGS = ["W1-FT-CW", "W1-PT-CW", "W1-TT-CW"]
UNIT = "E1-W1-U-CW"


def cooling_water(seconds: int, rng: np.random.Generator, blocked: bool = False) -> np.ndarray:
    """A casting well's cooling water, one row a second: the pump's flow wanders and pressure and
    outlet temperature follow it. A blocked channel lowers the flow and raises the pressure."""
    t = np.arange(seconds)
    flow = 400 + 40 * np.sin(2 * np.pi * t / 900) + 3 * rng.standard_normal(seconds)
    pressure = 0.30 + 0.0008 * (flow - 400) + 0.004 * rng.standard_normal(seconds)
    temp = 35 - 0.03 * (flow - 400) + 0.2 * rng.standard_normal(seconds)
    if blocked:
        flow, pressure = flow - 40, pressure + 0.03
    return np.column_stack([flow, pressure, temp])


def feed(services, rows: np.ndarray, t0: float) -> None:
    for a in range(0, len(rows), 120):  # two minutes a batch
        chunk = rows[a:a + 120]
        tags = [tag for _ in range(len(chunk)) for tag in TAGS]
        ts = np.repeat((t0 + a + np.arange(len(chunk))) * 1e6, len(TAGS)).astype(np.int64)
        raw = RawBatch(tags, services.index.lookup(tags), ts, chunk.ravel(), np.zeros(len(tags), np.uint8))
        services.pipeline.ingest(raw).result()


@pytest.fixture
def casting(tmp_path):
    services = build_services(make_settings(tmp_path, incident_tick_s=3600), None)
    services.catalog.apply(EMPTY)
    apply(services.catalog, find("deep-well-casting"), "E1", WELL)
    services.pipeline.reload_catalog()
    return services


def test_applying_records_the_detectors_unfitted(casting):
    [install] = installed(casting.catalog, "E1")
    assert install["detectors"] == [{"code": UNIT, "name": "W1 cooling water: flow, pressure and outlet "
                                     "temperature together", "fitted": False}]
    assert not casting.catalog.export().units


def test_a_fitted_detector_catches_a_blocked_channel_that_no_limit_sees(casting, monkeypatch):
    rng = np.random.default_rng(1)
    ran, real = [], offload.run  # fitting is seconds of Python: it runs in the render process
    monkeypatch.setattr(offload, "run", lambda fn, *a: ran.append(fn.__name__) or real(fn, *a))
    t0 = int(time.time()) - 3 * 3600  # whole seconds: the window holds exactly the rows fed
    with TestClient(make_api(casting), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        feed(casting, cooling_water(2400, rng), t0)  # 40 minutes of normal running
        body = {"org": "E1", "since": str(t0), "until": str(t0 + 2400)}
        dry = client.post(f"{API}/packs/deep-well-casting/fit", json=body | {"dry_run": True})
        assert dry.status_code == 200 and dry.json()["created"] == {"units": 1}, dry.text
        assert not casting.catalog.export().units

        r = client.post(f"{API}/packs/deep-well-casting/fit", json=body)
        assert r.status_code == 200, r.text
        [f] = r.json()["fitted"]
        assert (f["code"], f["columns"], f["rows"]) == (UNIT, TAGS, 2400)
        assert ran == ["fitted_model", "fitted_model"]  # the dry run and the fit, each off the server's process
        [unit] = casting.catalog.export().units
        assert (unit.code, unit.org, unit.hazard_source, unit.priority) == (UNIT, "E1", "E1-CAST", "high")
        assert unit.model["columns"] == TAGS
        installs = client.get(f"{API}/packs/installs", params={"org": "E1"}).json()["items"]
        assert installs[0]["detectors"][0]["fitted"] is True

        def alarms(condition: str) -> list[dict]:
            return [a for a in client.get(f"{API}/alarms").json()["items"] if a["condition"] == condition]

        now = time.time() - 600
        feed(casting, cooling_water(300, rng), now)  # normal running goes on quietly
        time.sleep(0.3)
        assert not alarms("ANOM")
        blocked = cooling_water(120, rng, blocked=True)
        assert blocked[:, 0].min() > 200 and blocked[:, 1].min() > 0.15 and blocked[:, 2].max() < 45
        feed(casting, blocked, now + 300)
        anomalies = eventually(lambda: alarms("ANOM"))
        assert [a["process_unit"] for a in anomalies] == [UNIT] and anomalies[0]["priority"] == "high"
        assert not [a for a in client.get(f"{API}/alarms").json()["items"] if a["condition"] != "ANOM"], \
            "a limit saw it too: the fault is not one only the unit can see"


def test_a_fit_without_history_is_refused_naming_the_detector(casting):
    with TestClient(make_api(casting), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        r = client.post(f"{API}/packs/deep-well-casting/fit", json={"org": "E1"})
        assert r.status_code == 422
        [problem] = r.json()["problems"]
        assert problem.startswith(f"detector {UNIT} (") and "W1-FT-CW has no readings in the window" in problem
        r = client.post(f"{API}/packs/deep-well-casting/fit", json={"org": "E1", "detectors": ["NOPE"]})
        assert r.status_code == 422 and f"deep-well-casting on E1 has {UNIT}" in r.json()["problems"][0]
        r = client.post(f"{API}/packs/tank-farm/fit", json={"org": "E1"})
        assert r.status_code == 422 and r.json()["problems"] == ["tank-farm is not installed on E1: apply it first"]
        r = client.post(f"{API}/packs/deep-well-casting/fit", json={"org": "E1", "since": "2026-12-02T10:00",
                                                                     "until": "2026-12-01T10:00"})
        assert r.status_code == 422 and "is empty: since must come before until" in r.json()["problems"][0]
        r = client.post(f"{API}/packs/deep-well-casting/fit", json={"org": "E1", "since": "yesterday"})
        assert r.status_code == 422 and "`since`: 'yesterday' is neither ISO 8601 nor epoch seconds" in r.text
    assert not casting.catalog.export().units


def test_the_command_line_fits_on_the_stored_history(tmp_path, casting):
    t0 = int(time.time()) - 3 * 3600  # whole seconds: the window holds exactly the rows fed
    with TestClient(make_api(casting)):  # the server runs while the history is recorded, then stops
        feed(casting, cooling_water(1200, np.random.default_rng(2)), t0)
    data, run = str(tmp_path / "data"), CliRunner().invoke
    window = ["--since", str(t0), "--until", str(t0 + 1200)]
    r = run(app, ["pack", "fit", "deep-well-casting", "--org", "E1", *window, "--dry-run", "--data-dir", data])
    assert r.exit_code == 0 and f"would fit {UNIT}: dpca-ewma on 1200 rows x 3 sensors" in r.output, r.output
    r = run(app, ["pack", "installed", "--org", "E1", "--data-dir", data])
    assert f"detector {UNIT}: not fitted yet" in r.output, r.output
    r = run(app, ["pack", "fit", "deep-well-casting", "--org", "E1", *window, "--data-dir", data])
    assert r.exit_code == 0 and f"fitted {UNIT}" in r.output, r.output
    r = run(app, ["pack", "installed", "--org", "E1", "--data-dir", data])
    assert f"detector {UNIT}: fitted" in r.output, r.output
    r = run(app, ["pack", "fit", "deep-well-casting", "--org", "E1", "--since", str(t0 + 600), "--until",
                  str(t0 + 1200), "--data-dir", data])
    assert r.exit_code == 2 and (f"detector {UNIT} (" in r.output and "600 rows of normal running; a false-alarm "
                                 "rate of 0.001 needs at least 1,000" in r.output), r.output


@pytest.mark.parametrize(("change", "needle"), [
    (lambda d: d["detectors"][0].update(columns=["{well}-FT-CW", "NOPE"]),
     "detectors: 'E1-W1-U-CW': 'NOPE' is not a sensor of E1 or of the pack"),
    (lambda d: d["detectors"][0].update(method="magic"), "detectors[0] (element 1): method 'magic': choose one of"),
    (lambda d: d["detectors"][0].update(columns=["{well}-FT-CW"]), "detectors[0] (element 1).columns: List should "
                                                                   "have at least 2 items"),
    (lambda d: d["detectors"][0].update(target_far=0.9), "detectors[0] (element 1).target_far: Input should be less"),
    (lambda d: d["detectors"][0].update(hazard_source="NOPE"), "detectors: 'E1-W1-U-CW': unknown hazard source"),
    (lambda d: d["detectors"].append(dict(d["detectors"][0])), "detectors: unit 'E1-W1-U-CW' given twice"),
])
def test_a_bad_detector_is_refused_at_apply(tmp_path, change, needle):
    services = build_services(make_settings(tmp_path), None)
    services.catalog.apply(EMPTY)
    with pytest.raises(PackError) as e:
        apply(services.catalog, load(_variant(tmp_path, change, "deep-well-casting")), "E1", WELL)
    assert any(needle in p for p in e.value.problems), e.value.problems
    assert not services.catalog.export().sensors


def test_an_upgrade_names_the_detectors_to_fit(tmp_path, casting):
    def with_a_level_detector(data: dict) -> None:
        data["version"] = "1.1.0"
        data["detectors"].append({"for_each": "wells", "code": "{org}-{well}-U-PIT", "name": "{well} pit",
                                  "columns": ["{well}-LT-PIT", "{well}-FT-CW"]})

    result = upgrade(casting.catalog, load(_variant(tmp_path, with_a_level_detector, "deep-well-casting")), "E1")
    assert [n for n in result.notes if n.startswith("detectors")] == [
        "detectors E1-W1-U-PIT: new in 1.1.0; fit it with `hazwatch pack fit deep-well-casting --org E1`"]
    assert [d["code"] for d in installed(casting.catalog, "E1")[0]["detectors"]] == [UNIT, "E1-W1-U-PIT"]
