"""The org tree a document makes together with the stored catalog: a document that would close a
loop through stored orgs, or change a kind under which stored orgs or devices no longer fit, is
refused whole with the org it names, and the store is unchanged."""

from __future__ import annotations

import pytest

from hazwatch.catalog.errors import CatalogError
from hazwatch.catalog.io import parse_document
from tests.conftest import build_services, make_settings

SOURCE = "orgs.yaml"
TREE = {"orgs": [{"code": "R1", "name": "r", "kind": "region"},
                 {"code": "R2", "name": "r2", "kind": "region", "parent": "R1"},
                 {"code": "P1", "name": "p", "kind": "park", "parent": "R2"},
                 {"code": "E1", "name": "e", "kind": "enterprise", "parent": "P1"}],
        "devices": [{"code": "D1", "name": "d", "org": "E1"}]}


@pytest.fixture
def catalog(tmp_path):
    repo = build_services(make_settings(tmp_path), catalog=None).catalog
    repo.apply(parse_document(TREE, SOURCE), SOURCE)
    return repo


def refused(catalog, data) -> list[str]:
    before = catalog.export()
    with pytest.raises(CatalogError) as e:
        catalog.apply(parse_document(data, SOURCE), SOURCE)
    assert catalog.export() == before
    return e.value.problems


def test_a_loop_through_stored_orgs_is_refused(catalog):
    # R1 under R2 while the store holds R2 under R1: neither the document nor the store loops alone
    problems = refused(catalog, {"orgs": [{"code": "R1", "name": "r", "kind": "region", "parent": "R2"}]})
    assert problems == [f"{SOURCE}: orgs[0].parent: the org tree has a cycle through 'R1'"]
    assert [o.code for o in catalog.export().orgs] == ["R1", "R2", "P1", "E1"]  # export still walks the tree


def test_a_kind_that_no_longer_fits_the_stored_orgs_below_is_refused(catalog):
    problems = refused(catalog, {"orgs": [{"code": "P1", "name": "p", "kind": "enterprise", "parent": "R2"}]})
    assert problems == [f"{SOURCE}: orgs[0].kind: 'P1' has an enterprise 'E1' below it, "
                        "which cannot have an enterprise above it"]


def test_an_enterprise_holding_devices_cannot_become_a_park(catalog):
    problems = refused(catalog, {"orgs": [{"code": "E1", "name": "e", "kind": "park", "parent": "R2"}]})
    assert any(p.startswith(f"{SOURCE}: orgs[0].kind: 'E1' holds 1 device(s)") for p in problems), problems


def test_moving_the_devices_out_lets_the_enterprise_become_a_park(catalog):
    catalog.apply(parse_document({"orgs": [{"code": "E2", "name": "e2", "kind": "enterprise", "parent": "R2"},
                                           {"code": "E1", "name": "e", "kind": "park", "parent": "R2"}],
                                  "devices": [{"code": "D1", "name": "d", "org": "E2"}]}, SOURCE), SOURCE)
    out = catalog.export()
    assert {o.code: o.kind for o in out.orgs}["E1"] == "park"
    assert [d.org for d in out.devices] == ["E2"]


def test_a_rule_of_an_org_far_above_its_sensors_is_accepted(tmp_path):
    """An org is within another however deep the tree (the walk is bounded by the tree's size, not
    by a depth the catalog may well pass)."""
    repo = build_services(make_settings(tmp_path), catalog=None).catalog
    chain = [{"code": "R0", "name": "r", "kind": "region"}] + [
        {"code": f"R{i}", "name": "r", "kind": "region", "parent": f"R{i - 1}"} for i in range(1, 100)]
    repo.apply(parse_document({
        "orgs": chain + [{"code": "P", "name": "p", "kind": "park", "parent": "R99"},
                         {"code": "E", "name": "e", "kind": "enterprise", "parent": "P"}],
        "devices": [{"code": "D", "name": "d", "org": "E"}],
        "sensors": [{"tag": "T", "name": "t", "kind": "level", "unit": "m", "device": "D", "range_low": 0,
                     "range_high": 10}],
        "rules": [{"code": "RULE-TOP", "name": "n", "org": "R0", "when": "T > 5"}]}, SOURCE), SOURCE)
    assert [r.code for r in repo.export().rules] == ["RULE-TOP"]
