"""Application packs: every shipped pack applied to an empty enterprise creates exactly what it
declares, a second apply changes nothing and duplicates nothing, a dry run writes nothing, and a
bad pack or bad parameters are refused with reasons that name the template or the parameter."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hazwatch.catalog import CatalogRepository
from hazwatch.catalog.schema import CatalogDoc, EndpointDoc, OrgDoc
from hazwatch.cli.main import app
from hazwatch.domain.clock import SystemClock
from hazwatch.packs import PackError, apply, find, installed, load, render, shipped, upgrade
from hazwatch.packs.manifest import json_schema
from hazwatch.risk.points import RiskPoints
from tests.conftest import build_services, make_settings

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("hazard_sources", "devices", "sensors", "rules", "plans", "incident_triggers")
EMPTY = CatalogDoc(orgs=[OrgDoc(code="R1", name="County bureau", kind="region"),
                         OrgDoc(code="P1", name="Park", kind="park", parent="R1"),
                         OrgDoc(code="E1", name="First works", kind="enterprise", parent="P1"),
                         OrgDoc(code="E2", name="Second works", kind="enterprise", parent="P1")],
                 # the casting pack's gates are written only at a PLC registered for the enterprise
                 endpoints=[EndpointDoc(code="PLC-E1", name="Casting PLC", org="E1", address="modbus://casting-plc:502"),
                            EndpointDoc(code="PLC-E1-LAB", name="Test PLC", org="E1",
                                        address="modbus://127.0.0.1:5020")])


@pytest.fixture
def repo(tmp_path) -> CatalogRepository:
    services = build_services(make_settings(tmp_path), catalog=None)
    services.catalog.apply(EMPTY)
    return services.catalog


def _stored(repo: CatalogRepository, section: str) -> dict[str, object]:
    return {getattr(x, "tag", None) or x.code: x for x in getattr(repo.export(), section)}


def _register(repo: CatalogRepository) -> RiskPoints:
    return RiskPoints(repo.engine, SystemClock())


def test_the_shipped_packs_are_listed():
    assert {p.manifest.name for p in shipped()} >= {"tank-farm", "gas-detection", "dust-explosion",
                                                    "deep-well-casting"}
    for p in shipped():
        assert p.manifest.standards and "## Sources" in p.readme, f"{p.manifest.name} names its sources"
        assert p.folder.name == p.manifest.name


@pytest.mark.parametrize("name", [p.manifest.name for p in shipped()])
def test_a_pack_applied_to_an_empty_enterprise_creates_what_it_declares_once(repo, name):
    pack = find(name)
    rendered = render(pack.manifest, "E1", {})
    dry, summary = apply(repo, pack, "E1", {}, dry_run=True)
    assert not _stored(repo, "sensors"), "a dry run wrote sensors"
    assert sum(summary.created.values()) > 0 and not summary.updated

    _, summary = apply(repo, pack, "E1", {})
    for section in SECTIONS:
        declared = getattr(rendered.doc, section)
        stored = _stored(repo, section)
        assert summary.created.get(section, 0) == len(declared)
        for item in declared:  # each as the pack declares it, under the enterprise
            key = getattr(item, "tag", None) or item.code
            assert stored[key] == item, (section, key)
    assert {d.org for d in repo.export().devices} == {"E1"}
    # the tank farm's sensors sit on the major hazard source the pack declares, with GB 18218's inputs
    if name == "tank-farm":
        hs = _stored(repo, "hazard_sources")["E1-TANKS"]
        assert hs.substances and hs.exposed_people == 60
        gas = [s for s in _stored(repo, "sensors").values() if s.kind == "combustible_gas"]
        assert gas and all((s.h, s.hh) == (25, 50) for s in gas)  # GB/T 50493: 25 / 50 %LEL

    # the risk points into the enterprise's register, each with its assessment
    points = {p["name"]: p for p in _register(repo).list(None)}
    assert summary.created.get("risk_points", 0) == len(rendered.risk_points) == len(points) > 0
    for rp in rendered.risk_points:
        assert (points[rp.name]["l"], points[rp.name]["e"], points[rp.name]["c"]) == (rp.l, rp.e, rp.c)
        assert points[rp.name]["value"] == rp.l * rp.e * rp.c and points[rp.name]["colour"]

    before = repo.export()
    _, again = apply(repo, pack, "E1", {})
    assert not again.created and not again.updated
    assert repo.export() == before and {p["name"]: p for p in _register(repo).list(None)} == points


def test_parameters_shape_what_is_created(repo):
    params = {"tag_prefix": "E2-", "tanks": [{"tank": "T9", "range_m": 12, "ll_m": 0.3, "l_m": 0.6, "h_m": 10,
                                              "hh_m": 11, "org": "E1"}],  # an element cannot move the pack
              "combustible_detectors": ["G1", "G2", "G3", "G4"], "voting_groups": [{"group": "N", "a": "G1",
                                                                                    "b": "G2", "c": "G3"}]}
    apply(repo, find("tank-farm"), "E2", params)
    sensors = _stored(repo, "sensors")
    assert (sensors["E2-T9-LT"].range_high, sensors["E2-T9-LT"].hh, sensors["E2-T9-LT"].device) == (12, 11,
                                                                                                  "E2-TANK-DCS")
    assert {"E2-G1", "E2-G4"} <= set(sensors) and "E2-TK101-LT" not in sensors
    assert _stored(repo, "rules")["E2-GDS-2OO3-N"].when == "2 of (E2-G1 > 25, E2-G2 > 25, E2-G3 > 25)"


def test_a_pack_cannot_take_over_what_another_pack_made_on_the_same_enterprise(repo):
    apply(repo, find("tank-farm"), "E1", {})
    with pytest.raises(PackError) as e:  # both packs number their first combustible detector GT01
        apply(repo, find("gas-detection"), "E1", {})
    assert any("'GT01' was made here by the tank-farm pack" in p for p in e.value.problems), e.value.problems
    apply(repo, find("gas-detection"), "E1", {"tag_prefix": "CH1-"})


def test_a_pack_cannot_take_over_what_a_person_made_on_the_enterprise(repo):
    apply(repo, find("tank-farm"), "E1", {"tanks": [{"tank": "TK900", "range_m": 10, "ll_m": 0.5, "l_m": 1,
                                                     "h_m": 8, "hh_m": 9}]})
    level = _stored(repo, "sensors")["TK900-LT"]
    repo.apply(CatalogDoc(sensors=[level.model_copy(update={"tag": "TK101-LT", "name": "made by hand"})]))
    before = repo.export()
    with pytest.raises(PackError) as e:  # with its default tanks the pack would make TK101-LT and take it over
        apply(repo, find("tank-farm"), "E1", {})
    assert "sensors: 'TK101-LT' already exists in E1 and was not made by this pack; give the pack other numbers " \
           "(its tag_prefix or its list parameters)" in e.value.problems
    assert repo.export() == before
    # an upgrade that brings the same number keeps the hand-made item and reports it
    result = upgrade(repo, find("tank-farm"), "E1", params={})
    assert any(c.startswith("sensors TK101-LT: new in 1.0.0 but already made by hand") for c in result.conflicts)
    assert _stored(repo, "sensors")["TK101-LT"].name == "made by hand"


def test_a_second_enterprise_cannot_take_the_firsts_tags(repo):
    apply(repo, find("tank-farm"), "E1", {})
    before = repo.export()
    with pytest.raises(PackError) as e:
        apply(repo, find("tank-farm"), "E2", {})
    assert any("'TK101-LT' already belongs to E1" in p for p in e.value.problems)
    assert repo.export() == before
    apply(repo, find("tank-farm"), "E2", {"tag_prefix": "E2-"})  # with its own numbers it may


@pytest.mark.parametrize(("params", "needle"), [
    ({"tanks": "TK1"}, "parameter 'tanks': expected list, got str"),
    ({"exposed_people": True}, "parameter 'exposed_people': expected integer"),
    ({"tanks": []}, "parameter 'tanks': at least 1 element(s)"),
    ({"colour": "red"}, "parameter 'colour': the pack has no such parameter"),
    ({"tanks": [{"tank": "T1", "range_m": 20, "ll_m": 0.5, "l_m": 1, "h_m": 19, "hh_m": 18}]},
     "tank-farm: sensors[0] (element 1): limits out of order: h=19.0 is above hh=18.0"),
    ({"tanks": [{"tank": "T1"}]}, "tank-farm: sensors[0] (element 1).range_high: unknown placeholder {range_m}"),
    ({"voting_groups": [5]}, "tank-farm: rules[0] (element 1).code: unknown placeholder {group}"),
])
def test_bad_parameters_are_refused_naming_the_parameter_or_template(repo, params, needle):
    with pytest.raises(PackError) as e:
        apply(repo, find("tank-farm"), "E1", params)
    assert any(needle in p for p in e.value.problems), e.value.problems
    assert not _stored(repo, "sensors")


def _variant(tmp_path: Path, change, name: str = "tank-farm") -> Path:
    """A copy of a shipped pack with `change` made to its pack.yaml."""
    folder = tmp_path / "variant"
    shutil.copytree(find(name).folder, folder)
    data = yaml.safe_load((folder / "pack.yaml").read_text())
    change(data)
    (folder / "pack.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    return folder


@pytest.mark.parametrize(("change", "needle"), [
    (lambda d: d.pop("standards"), "standards: Field required"),
    (lambda d: d.update(version="1.0"), "version: String should match pattern"),
    (lambda d: d.update(format="hazwatch-pack/9"), "format: Input should be 'hazwatch-pack/1'"),
    (lambda d: d["parameters"].append({"name": "org", "type": "string", "description": "x"}),
     "org, item and i are given by Hazwatch"),
    (lambda d: d["devices"].append({"code": "{org}-X", "name": "x", "org": "{org}", "colour": "red"}),
     "broken: devices[2].colour: Extra inputs are not permitted"),
    (lambda d: d["sensors"][0].update(name="{missing}"), "sensors[0] (element 1).name: unknown placeholder {missing}"),
    (lambda d: d["sensors"][0].update(name="{org.__class__}"), "attribute access is not allowed"),
    (lambda d: d["rules"][0].update(when="2 of (GT01 > 25"), "rules[0] (element 1).when"),
    (lambda d: d["risk_points"][0].update(l=4), "risk_points[0]: L = 4 is not in the LEC table"),
    (lambda d: d["risk_points"][0].pop("c"), "risk_points[0]: an LEC assessment needs l, e and c"),
    (lambda d: d["risk_points"][0].update(hazard_source="NOPE"), "unknown hazard source 'NOPE' of E1"),
])
def test_a_bad_pack_is_refused_with_clear_errors(tmp_path, repo, change, needle):
    folder = _variant(tmp_path, change)
    with pytest.raises(PackError) as e:
        pack = load(folder)
        pack.manifest.name = "broken"
        apply(repo, pack, "E1", {})
    assert any(needle in p for p in e.value.problems), e.value.problems
    assert not _stored(repo, "sensors")


def _next_version(data: dict) -> None:
    """What a pack's next release might change: a wider level deadband, new default HH levels, one
    more combustible detector, one more step in the overfill plan."""
    data["version"] = "1.1.0"
    level = next(t for t in data["sensors"] if t["tag"].endswith("-LT"))
    level["deadband"] = 0.1
    for tank in next(p for p in data["parameters"] if p["name"] == "tanks")["default"]:
        tank["hh_m"] = 18.8
    next(p for p in data["parameters"] if p["name"] == "combustible_detectors")["default"].append("GT04")
    next(p for p in data["plans"] if p["code"] == "{org}-SP-OVERFILL")["steps"].append(
        {"title": "Record the overfill in the shift log", "role": "operator", "due_min": 60})


def test_an_upgrade_takes_the_packs_changes_and_keeps_local_edits(tmp_path, repo):
    apply(repo, find("tank-farm"), "E1", {})
    level = _stored(repo, "sensors")["TK101-LT"]
    repo.apply(CatalogDoc(sensors=[level.model_copy(update={"hh": 18.0, "on_delay_s": 3.0})]))  # edited here
    v2 = load(_variant(tmp_path, _next_version))
    before = repo.export()
    dry = upgrade(repo, v2, "E1", dry_run=True)
    assert repo.export() == before and dry.summary.created == {"sensors": 1}

    result = upgrade(repo, v2, "E1")
    sensors = _stored(repo, "sensors")
    assert (sensors["TK101-LT"].hh, sensors["TK101-LT"].on_delay_s) == (18.0, 3.0)  # the local edits stay
    assert sensors["TK101-LT"].deadband == sensors["TK102-LT"].deadband == 0.1  # the pack's change is taken
    assert sensors["TK102-LT"].hh == 18.8  # not edited here: the new default
    assert "GT04" in sensors and len(_stored(repo, "plans")["E1-SP-OVERFILL"].steps) == 4
    assert any("TK101-LT.hh: changed here to 18.0 and by the pack from 18.5 to 18.8" in c for c in result.conflicts)
    assert any("TK101-LT.on_delay_s: 3.0 kept" in k for k in result.kept)
    assert (result.from_version, result.to_version) == ("1.0.0", "1.1.0")
    assert installed(repo, "E1")[0]["version"] == "1.1.0"
    # a risk point re-assessed here keeps its assessment through the next upgrade
    point = _register(repo).list(None)[0]
    _register(repo).assess(point["org_id"], point["hazard_source_id"], None, point["name"], "lec",
                           {"l": 3, "e": 6, "c": 15}, "reviewed", "safety officer")
    again = upgrade(repo, v2, "E1")  # upgrading to the version installed changes nothing
    assert not again.summary.created and not again.summary.updated and not again.conflicts
    assert _register(repo).list(None)[0]["l"] == 3 and any("assessed here" in n for n in again.notes)


@pytest.mark.parametrize("name", [p.manifest.name for p in shipped()])
def test_every_shipped_pack_upgrades_keeping_a_local_edit(tmp_path, repo, name):
    apply(repo, find(name), "E1", {})
    first = render(find(name).manifest, "E1", {}).doc.sensors[0]
    mine = _stored(repo, "sensors")[first.tag]
    repo.apply(CatalogDoc(sensors=[mine.model_copy(update={"on_delay_s": 7.0})]))  # edited here

    def next_release(data: dict) -> None:
        data["version"] = "9.0.0"
        data["sensors"][0]["off_delay_s"] = 9  # the new version changes another field of the same item

    result = upgrade(repo, load(_variant(tmp_path, next_release, name)), "E1")
    after = _stored(repo, "sensors")[first.tag]
    assert (after.on_delay_s, after.off_delay_s) == (7.0, 9.0)
    assert not result.conflicts and installed(repo, "E1")[0]["version"] == "9.0.0"


def test_an_upgrade_needs_an_install(repo):
    with pytest.raises(PackError, match="tank-farm is not installed on E1"):
        upgrade(repo, find("tank-farm"), "E1")


def test_the_published_schema_matches_the_code_and_validates_the_shipped_packs():
    import jsonschema

    published = json.loads((ROOT / "docs" / "schema" / "pack.schema.json").read_text())
    assert published == json_schema(), "run `hazwatch pack schema > docs/schema/pack.schema.json`"
    for p in shipped():
        jsonschema.validate(yaml.safe_load((p.folder / "pack.yaml").read_text()), published)


def test_the_command_line(tmp_path):
    data = tmp_path / "data"
    cat = tmp_path / "orgs.yaml"
    cat.write_text(yaml.safe_dump(EMPTY.model_dump(mode="json", exclude_none=True)))
    run = CliRunner().invoke
    assert run(app, ["catalog", "import", str(cat), "--data-dir", str(data)]).exit_code == 0
    r = run(app, ["pack", "list"])
    assert r.exit_code == 0 and "tank-farm" in r.output
    r = run(app, ["pack", "show", "tank-farm", "--org", "E1"])
    assert r.exit_code == 0 and "GB/T 50493-2019" in r.output and "sensor TK101-LT" in r.output
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"tag_prefix": "X-"}))
    r = run(app, ["pack", "apply", "tank-farm", "--org", "E1", "--params", str(params), "--dry-run",
                  "--data-dir", str(data)])
    assert r.exit_code == 0 and "sensors: 11 to create" in r.output, r.output
    r = run(app, ["pack", "apply", "tank-farm", "--org", "E1", "--params", str(params), "--data-dir", str(data)])
    assert r.exit_code == 0 and "sensors: 11 created" in r.output, r.output
    r = run(app, ["pack", "apply", "tank-farm", "--org", "E1", "--params", str(params), "--data-dir", str(data)])
    assert r.exit_code == 0 and "sensors: 0 created, 0 updated, 11 unchanged" in r.output, r.output
    r = run(app, ["pack", "apply", "tank-farm", "--org", "P1", "--data-dir", str(data)])
    assert r.exit_code == 2 and "P1 is a park; a pack is applied to an enterprise" in r.output
    r = run(app, ["pack", "installed", "--org", "E1", "--data-dir", str(data)])
    assert r.exit_code == 0 and 'tank-farm 1.0.0  parameters {"tag_prefix": "X-"}' in r.output, r.output
    v2 = _variant(tmp_path, _next_version)
    r = run(app, ["pack", "upgrade", str(v2), "--org", "E1", "--data-dir", str(data)])
    assert r.exit_code == 0 and "upgraded tank-farm on E1 from 1.0.0 to 1.1.0" in r.output, r.output
    # X-GT04 made; the two levels take the new deadband and HH; the overfill plan its new step
    assert "sensors: 1 created, 2 updated, 9 unchanged" in r.output and "plans: 0 created, 1 updated" in r.output
