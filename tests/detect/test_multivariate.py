"""Multivariate detectors: thresholds that hold their false-alarm rate on new normal data, streams
that do not depend on how rows are batched, plain-data state, culprits, and one code path for the
offline CLI and the live engine (same scores, same flags)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hazwatch.app import make_api
from hazwatch.cli.main import app as cli
from hazwatch.detect.multivariate import METHODS, FitError, Model, fit_model
from hazwatch.detect.multivariate.frames import read_csv
from tests.conftest import TOKEN, build_services, make_settings

TAGS = ["MV-A", "MV-B", "MV-C", "MV-D"]


def plant(n: int, seed: int, shift_at: int | None = None, shift: float = 0.0) -> np.ndarray:
    """Four correlated sensors driven by two latent factors, with noise; after `shift_at` the fourth
    sensor breaks the correlation (a drifting transmitter or a leak)."""
    rng = np.random.default_rng(seed)
    lat = rng.normal(size=(n, 2))
    x = np.column_stack([lat[:, 0], 0.8 * lat[:, 0] + 0.2 * lat[:, 1], lat[:, 1], lat[:, 0] - lat[:, 1]])
    x += rng.normal(scale=0.1, size=x.shape)
    x = 50.0 + 5.0 * x
    if shift_at is not None:
        x[shift_at:, 3] += shift
    return x


@pytest.mark.parametrize("method", list(METHODS))
def test_threshold_holds_the_false_alarm_rate_on_new_normal_data_and_a_fault_is_found(method):
    model = fit_model([plant(3000, 1)], TAGS, method, target_far=0.01)
    _, flags = model.score(plant(4000, 2))
    assert flags.mean() < 0.03  # target 1 %, held out: not the several-fold excess of an in-sample quantile
    model.detector.reset()
    x = plant(600, 3, shift_at=300, shift=6.0)  # breaks the correlation: the residual (Q) sees it
    if method == "pca-t2":  # T² watches the model's own subspace: move the first factor far out instead
        x = plant(600, 3)
        x[300:] += 5.0 * 6.0 * np.array([1.0, 0.8, 0.0, 1.0])
    _, flags = model.score(x)
    assert flags[320:].mean() > 0.9


@pytest.mark.parametrize("params", [{}, {"adapt": 0.01}])
def test_scores_do_not_depend_on_how_the_rows_are_batched(params):
    model = fit_model([plant(2000, 1)], TAGS, "dpca-ewma", **params)
    state = model.to_dict()
    x = plant(500, 4, shift_at=250, shift=3.0)
    whole, _ = model.score(x)
    again = Model.from_dict(state)
    cuts = [0, 1, 7, 8, 100, 233, 234, 499, 500]
    parts = np.concatenate([again.score(x[a:b])[0] for a, b in zip(cuts, cuts[1:], strict=False)])
    assert np.array_equal(whole, parts)


def test_a_model_is_plain_json_and_restores_to_the_same_scores():
    model = fit_model([plant(1500, 1), plant(1500, 5)], TAGS, "dpca-ewma")
    text = json.dumps(model.to_dict())
    back = Model.from_dict(json.loads(text))
    x = plant(300, 6, shift_at=150, shift=4.0)
    assert np.array_equal(model.score(x)[0], back.score(x)[0])
    assert back.columns == TAGS and back.threshold == model.threshold


def test_the_culprit_is_the_sensor_that_moved():
    model = fit_model([plant(2000, 1)], TAGS, "pca")
    x = plant(50, 7, shift_at=0, shift=8.0)
    top = [row[0][0] for row in model.culprits(x)]
    assert top.count("MV-D") > 40


def test_fitting_refuses_what_cannot_make_a_model():
    with pytest.raises(FitError, match="too few"):
        fit_model([plant(5, 1)], TAGS)
    bad = plant(100, 1)
    bad[10, 2] = np.nan
    with pytest.raises(FitError, match="MV-C"):
        fit_model([bad], TAGS)
    with pytest.raises(FitError, match="unknown method 'svm'"):
        fit_model([plant(100, 1)], TAGS, "svm")


def write_csv(path, ts, x, extra: str = "") -> None:
    with open(path, "w") as f:
        f.write("ts," + ",".join(TAGS) + (",note" if extra else "") + "\n")
        for t, row in zip(ts, x, strict=True):
            f.write(f"{float(t)!r}," + ",".join(repr(float(v)) for v in row) + (f",{extra}" if extra else "") + "\n")


def test_csv_errors_name_the_line_and_column(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("ts,MV-A,MV-B\n1,2,3\n2,x,4\n")
    with pytest.raises(FitError, match=r"line 3, column 'MV-A': 'x' is not a number"):
        read_csv(p)
    p.write_text("time,MV-A\n1,2\n")
    with pytest.raises(FitError, match="no ts column"):
        read_csv(p)
    p.write_text("ts,MV-A,label\n1,2,ok\n2,3,ok\n")
    assert read_csv(p).columns == ["MV-A"]  # a text column is not a sensor


def test_cli_and_live_engine_give_the_same_scores_and_flags(tmp_path):
    t0 = time.time() - 3600
    train, test = plant(1500, 11), plant(400, 12, shift_at=200, shift=6.0)
    write_csv(tmp_path / "train.csv", t0 - 2000 + np.arange(1500), train, extra="normal")
    ts = t0 + np.arange(400) * 1.0
    write_csv(tmp_path / "test.csv", ts, test)
    runner = CliRunner()
    r = runner.invoke(cli, ["model", "fit", "--csv", str(tmp_path / "train.csv"), "--out", str(tmp_path / "m.json"),
                            "--target-far", "0.01"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["model", "score", "--model", str(tmp_path / "m.json"), "--csv", str(tmp_path / "test.csv"),
                            "--out", str(tmp_path / "scores.csv")])
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "scores.csv").read_text().splitlines()
    assert lines[0] == "ts,score,threshold,flag" and len(lines) == 401
    offline = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]])
    assert offline[:200, 3].mean() < 0.05 and offline[220:, 3].mean() > 0.9

    services = build_services(make_settings(tmp_path))
    doc = {"sensors": [{"tag": t, "name": t, "kind": "flow", "unit": "m3/h", "device": "DCS-T", "range_low": 0,
                        "range_high": 200} for t in TAGS],
           "units": [{"code": "U-MV", "name": "Test unit", "org": "E-T", "priority": "high", "clear_rows": 5,
                      "model": json.loads((tmp_path / "m.json").read_text())}]}
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        assert c.post("/api/v1/catalog", json=doc).status_code == 200
        services.pipeline.reload_catalog()
        watch = next(iter(services.pipeline.units.watches.values()))
        live: list[tuple[np.ndarray, np.ndarray]] = []
        score = watch.model.score
        watch.model.score = lambda x: live.append(score(x)) or live[-1]  # record what the engine computed
        rng = np.random.default_rng(0)
        i = 0
        while i < 400:  # rows arrive in batches of varying size, sensors in shuffled order
            n = int(rng.integers(1, 40))
            rows = range(i, min(i + n, 400))
            items = [(TAGS[j], float(ts[k]), float(test[k, j])) for k in rows for j in range(4)]
            rng.shuffle(items)
            body = {"sensor": [a for a, _, _ in items], "ts": [b for _, b, _ in items], "value": [v for *_, v in items]}
            assert c.post("/api/v1/telemetry", json=body).json()["accepted"] == len(items)
            i += n
        scores = np.concatenate([s for s, _ in live])
        flags = np.concatenate([f for _, f in live])
        assert np.array_equal(scores, offline[:, 1])
        assert np.array_equal(flags.astype(int), offline[:, 3].astype(int))
        alarms = [a for a in c.get("/api/v1/alarms", params={"state": "all"}).json()["items"]
                  if a["condition"] == "ANOM"]
        assert len(alarms) == 1 and alarms[0]["process_unit"] == "U-MV" and alarms[0]["priority"] == "high"
        first = int(np.flatnonzero(offline[:, 3] == 1)[0])
        assert alarms[0]["raised_at"].startswith(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(ts[first])))
        journal = c.get(f"/api/v1/alarms/{alarms[0]['id']}/journal").json()["items"]
        raised = next(e for e in journal if e["event"] == "raised")
        assert "MV-D" in raised["comment"].split("most from")[1].split(",")[0]  # the sensor that moved comes first
