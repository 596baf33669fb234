"""Compound rules: the language (every form, and errors that point into the rule text), and the
live engine: k-of-n voting, and/or/not, state conditions, held conditions in reading time and by the
clock, and alarms that say which inputs made the rule true."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from hazwatch.domain.rulelang import All, Any_, Compare, Not, RuleError, State, Vote, parse
from tests.conftest import TOKEN, build_services, make_settings


# -- the language ------------------------------------------------------------------------------------------
def test_every_form_parses_into_its_tree():
    r = parse("2 of (GT-1 > 25, GT-2 > 25, GT-3 >= 25)")
    assert isinstance(r.condition, Vote) and r.condition.k == 2 and len(r.condition.children) == 3
    r = parse("TT-1 > 180 and PT-1 >= 1.5 or not (LT-1 < 10) for 30s")
    assert isinstance(r.condition, Any_) and isinstance(r.condition.children[0], All)
    assert isinstance(r.condition.children[1], Not) and r.hold_s == 30
    r = parse("running(P-1) AND stopped(P-2) for 2m")
    assert r.condition == All((State("P-1", True), State("P-2", False))) and r.hold_s == 120
    assert parse("'101' != -1.5e1 for 500ms").condition == Compare("101", "!=", -15.0)
    assert parse("TT-1 > TT-2").tags() == ["TT-1", "TT-2"]
    assert parse("A > 1 for 1.5h").hold_s == 5400


@pytest.mark.parametrize(("text", "column", "message"), [
    ("TT-1 >", 7, "expected a sensor tag or a number, found the end of the rule"),
    ("TT-1 >> 3", 7, "expected a sensor tag or a number, found '>'"),
    ("TT-1 = 3", 6, "unexpected character '='"),
    ("(TT-1 > 3", 10, "expected ')'"),
    ("TT-1 > 3 PT-1 < 2", 10, "expected 'and', 'or', 'for' or the end of the rule, found 'PT-1'"),
    ("4 of (A > 1, B > 2)", 1, "the count must be between 1 and the number of conditions"),
    ("A > 1 for 3", 11, "a duration such as 30s"),
    ("3 > 4", 1, "a comparison needs at least one sensor tag"),
    ("TT-1 and PT-1 > 2", 6, "expected a comparison"),
    ("", 1, "the rule is empty"),
])
def test_errors_point_at_the_rule_text(text, column, message):
    with pytest.raises(RuleError) as e:
        parse(text)
    assert e.value.column == column and message in e.value.message
    assert str(e.value).splitlines()[-1].index("^") - 2 == column - 1  # the caret sits under the column


# -- the live engine ---------------------------------------------------------------------------------------
SENSORS = [{"tag": t, "name": t, "kind": "combustible_gas", "unit": "%LEL", "device": "DCS-T", "range_low": 0,
            "range_high": 100} for t in ("GT-1", "GT-2", "GT-3")]
SENSORS += [{"tag": "TT-1", "name": "Reactor temperature", "kind": "temperature", "unit": "°C", "device": "DCS-T",
             "range_low": 0, "range_high": 400},
            {"tag": "P-1", "name": "Feed pump", "kind": "state", "unit": "", "device": "DCS-T", "range_low": 0,
             "range_high": 1}]
RULES = [
    {"code": "R-VOTE", "name": "2oo3 gas", "org": "E-T", "when": "2 of (GT-1 > 25, GT-2 > 25, GT-3 > 25)"},
    {"code": "R-HOT", "name": "Hot while pumping", "org": "E-T", "priority": "urgent",
     "when": "running(P-1) and not (TT-1 < 180) for 30s"},
]


@pytest.fixture
def api(tmp_path):
    services = build_services(make_settings(tmp_path))
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        r = c.post("/api/v1/catalog", json={"sensors": SENSORS, "rules": RULES})
        assert r.status_code == 200, r.text
        services.pipeline.reload_catalog()
        # readings from now into the next minute (inside the future tolerance): the clock's tick never
        # runs ahead of them, so holds are judged in reading time alone
        c.t0 = time.time()
        yield c


def send(c, at: float, **values) -> None:
    body = {"sensor": list(values), "ts": [c.t0 + at] * len(values), "value": list(values.values())}
    assert c.post("/api/v1/telemetry", json=body).json()["accepted"] == len(values)


def rule_events(c, code: str) -> list[dict]:
    alarm = [a for a in c.get("/api/v1/alarms", params={"state": "all"}).json()["items"] if a["rule"] == code]
    if not alarm:
        return []
    assert alarm[0]["condition"] == "RULE"
    return [e for e in c.get(f"/api/v1/alarms/{alarm[0]['id']}/journal").json()["items"]
            if e["event"] in ("raised", "cleared")]


def test_two_of_three_votes_and_says_which_detectors(api):
    send(api, 0, **{"GT-1": 5.0, "GT-2": 5.0, "GT-3": 5.0})
    send(api, 1, **{"GT-1": 30.0})
    assert rule_events(api, "R-VOTE") == []  # one detector alone is not enough
    send(api, 2, **{"GT-3": 41.5})
    events = rule_events(api, "R-VOTE")
    assert [e["event"] for e in events] == ["raised"]
    comment = events[0]["comment"]
    assert "GT-1 = 30 %LEL > 25" in comment and "GT-3 = 41.5 %LEL > 25" in comment and "GT-2" not in comment
    assert "2 of 3 true, 2 needed" in comment
    alarm = next(a for a in api.get("/api/v1/alarms").json()["items"] if a["rule"] == "R-VOTE")
    assert alarm["priority"] == "high" and alarm["enterprise"] == "E-T"
    send(api, 3, **{"GT-1": 3.0})
    assert [e["event"] for e in rule_events(api, "R-VOTE")] == ["raised", "cleared"]


def test_a_held_condition_fires_only_after_its_time_in_reading_time(api):
    send(api, 0, **{"P-1": 1.0, "TT-1": 150.0})
    send(api, 10, **{"TT-1": 185.0})  # true from t=10
    send(api, 30, **{"TT-1": 186.0})  # 20 s: not yet
    assert rule_events(api, "R-HOT") == []
    send(api, 41, **{"TT-1": 187.0})  # 31 s
    events = rule_events(api, "R-HOT")
    assert [e["event"] for e in events] == ["raised"]
    assert events[0]["comment"].startswith("true for 30 s: P-1 running (1); not (TT-1 < 180)")
    send(api, 50, **{"P-1": 0.0})  # the pump stops: no longer true
    assert [e["event"] for e in rule_events(api, "R-HOT")] == ["raised", "cleared"]


def test_a_break_restarts_the_hold(api):
    send(api, 0, **{"P-1": 1.0, "TT-1": 185.0})
    send(api, 20, **{"TT-1": 170.0})  # broken after 20 s
    send(api, 25, **{"TT-1": 190.0})
    send(api, 50, **{"TT-1": 190.0})  # 25 s since the break: not yet
    assert rule_events(api, "R-HOT") == []
    send(api, 56, **{"TT-1": 190.0})
    assert [e["event"] for e in rule_events(api, "R-HOT")] == ["raised"]


def test_the_clock_fires_a_held_rule_when_no_reading_comes(tmp_path):
    services = build_services(make_settings(tmp_path))
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        rule = {**RULES[1], "when": "running(P-1) and TT-1 >= 180 for 1s"}
        assert c.post("/api/v1/catalog", json={"sensors": SENSORS, "rules": [rule]}).status_code == 200
        services.pipeline.reload_catalog()
        now = time.time()
        c.post("/api/v1/telemetry", json={"sensor": ["P-1", "TT-1"], "ts": [now, now], "value": [1.0, 200.0]})
        deadline = time.monotonic() + 5
        while not rule_events(c, "R-HOT") and time.monotonic() < deadline:
            time.sleep(0.05)
        events = rule_events(c, "R-HOT")
        assert [e["event"] for e in events] == ["raised"]


def test_a_backlog_replayed_fast_does_not_fire_holds_ahead_of_its_data(api):
    # an hour-old backlog (an edge gateway catching up): the clock's ticks between its batches must
    # judge the hold by reading time, not by how long ago the readings were taken
    api.t0 -= 3600
    send(api, 0, **{"P-1": 1.0, "TT-1": 185.0})  # true from t=0, an hour ago
    time.sleep(0.4)  # several ticks of the writer's clock pass
    send(api, 10, **{"TT-1": 170.0})  # broken after 10 s of reading time
    time.sleep(0.4)
    assert rule_events(api, "R-HOT") == []
    send(api, 20, **{"TT-1": 190.0})
    send(api, 55, **{"TT-1": 190.0})
    events = rule_events(api, "R-HOT")
    assert [e["event"] for e in events] == ["raised"]
    assert events[0]["ts"] == _iso(api.t0 + 55)


def _iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_import_refuses_a_bad_rule_and_says_where(api):
    bad = [{"code": "R-X", "name": "x", "org": "E-T", "when": "GT-1 > 25 GT-2 > 25"}]
    r = api.post("/api/v1/catalog", json={"rules": bad})
    assert r.status_code == 422
    text = r.text
    assert "rules" in text and "column 11" in text and "found 'GT-2'" in text
    r = api.post("/api/v1/catalog", json={"rules": [{"code": "R-X", "name": "x", "org": "E-T",
                                                       "when": "GT-9 > 1 or GT-1 > 2"}]})
    assert r.status_code == 422 and "rules[0].when: unknown sensor 'GT-9'" in r.text
    r = api.post("/api/v1/catalog", json={"rules": [{"code": "R-X", "name": "x", "org": "E-OTHER",
                                                       "when": "GT-1 > 2"}]})
    assert r.status_code == 422 and "outside the rule's org 'E-OTHER'" in r.text


def test_rules_come_back_in_the_export(api):
    doc = api.get("/api/v1/catalog", params={"format": "json"}).json()
    assert {r["code"]: r["when"] for r in doc["rules"]} == {r["code"]: r["when"] for r in RULES}


def test_readings_stored_before_a_crash_are_evaluated_by_the_rules_on_restart(tmp_path):
    """Readings are durable before alarms are: what was stored but not yet evaluated when the process
    died goes through every detection stage, rules included, when it starts again."""
    import numpy as np

    from hazwatch.catalog.io import parse_document
    from hazwatch.domain.batch import US, ReadingBatch

    settings = make_settings(tmp_path)
    services = build_services(settings)
    services.catalog.apply(parse_document({"sensors": SENSORS, "rules": RULES}, "test"), "test")
    services.pipeline.reload_catalog()
    ids = [services.index.tag_to_id[t] for t in ("GT-1", "GT-2", "GT-3")]
    now = int(time.time() * US)
    services.store.append(ReadingBatch.of(np.array(ids), np.full(3, now), np.array([40.0, 45.0, 3.0])).sorted())
    services.store.close()  # the process dies before the writer evaluated the batch

    again = build_services(settings)
    with TestClient(make_api(again), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        events = rule_events(c, "R-VOTE")
        assert [e["event"] for e in events] == ["raised"] and "GT-2 = 45" in events[0]["comment"]
