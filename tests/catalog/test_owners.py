"""SensorIndex.owner: the one answer to whose an alarm key is, for every kind of key."""

from __future__ import annotations

from types import SimpleNamespace

from hazwatch.scale import partitions


def _org(services, code: str) -> int:
    return services.orgs.current().by_code(code).id


def test_every_kind_of_key_has_one_owner(services, client):
    r = client.post("/api/v1/catalog", json={"rules": [
        {"code": "R-T", "name": "tank and gas", "org": "E-T", "when": "TK1-LT > 15 and GT1 > 20"},
        {"code": "R-PARK", "name": "both enterprises", "org": "P-T", "when": "TK1-LT > 15 and OTHER-PT > 2"}]})
    assert r.status_code == 200, r.text
    services.pipeline.reload_catalog()
    idx = services.index
    e_t, e_other, park = _org(services, "E-T"), _org(services, "E-OTHER"), _org(services, "P-T")

    tank = idx.owner(sensor=idx.tag_to_id["TK1-LT"])
    assert (tank.kind, tank.code, tank.org_id, tank.enterprise, tank.devices, tank.sensor_kind, tank.label) == (
        "sensor", "TK1-LT", e_t, "E-T", frozenset({"DCS-T"}), "level", "TK1-LT")
    # GT2 names no hazard source: it sits where its device does
    gt2 = idx.owner(sensor=idx.tag_to_id["GT2"])
    assert gt2.hazard_source_id == tank.hazard_source_id is not None

    dcs = idx.owner(device=idx.devices["DCS-T"].id)
    assert (dcs.kind, dcs.org_id, dcs.hazard_source_id, dcs.label) == ("device", e_t, tank.hazard_source_id,
                                                                       "device DCS-T")
    other = idx.owner(device=idx.devices["DCS-O"].id)
    assert (other.org_id, other.enterprise, other.hazard_source_id) == (e_other, "E-OTHER", None)

    rules = {r.code: r.id for r in idx.rules.values()}
    one = idx.owner(rule=rules["R-T"])
    assert (one.org_id, one.hazard_source_id, one.devices, one.label) == (e_t, tank.hazard_source_id,
                                                                           frozenset({"DCS-T"}), "rule R-T")
    both = idx.owner(rule=rules["R-PARK"])  # over two enterprises: the park's, at no one hazard source
    assert (both.org_id, both.enterprise, both.hazard_source_id, both.devices) == (
        park, "P-T", None, frozenset({"DCS-T", "DCS-O"}))

    # alarm points (attributes) and alarm rows (mappings) ask the same question
    point = SimpleNamespace(sensor_id=None, device_id=None, unit_id=None, rule_id=rules["R-T"])
    assert idx.owner_of(point) == one
    assert idx.owner_of({"sensor_id": idx.tag_to_id["TK1-LT"], "device_id": None, "unit_id": None,
                         "rule_id": None}) == tank

    # what is not in the index has no owner: unknown ids, and another worker's partitions
    assert idx.owner(sensor=10_000) is None and idx.owner(rule=10_000) is None and idx.owner() is None
    assert e_t % 2 != e_other % 2  # the two enterprises fall in different partitions of two
    mine = partitions.scoped(idx, {e_t % 2}, 2)
    assert mine.owner(sensor=idx.tag_to_id["TK1-LT"]) is not None
    assert mine.owner(device=idx.devices["DCS-O"].id) is None
    assert mine.owner(sensor=idx.tag_to_id["OTHER-PT"]) is None
