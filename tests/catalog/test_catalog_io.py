"""Catalog import/export through the command line: whole files applied or refused whole, errors
that name file, path or line and reason, exports that import back unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hazwatch.catalog.schema import json_schema
from hazwatch.cli.main import app
from tests.conftest import DATA

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def data_dir(tmp_path: Path) -> str:
    return str(tmp_path / "d")


def test_import_then_export_round_trips_in_every_format(data_dir, tmp_path):
    r = cli("catalog", "import", str(DATA / "catalog.yaml"), "--data-dir", data_dir)
    assert r.exit_code == 0, r.output
    assert "sensors: 4 created, 0 updated" in r.output
    exported = {}
    for fmt in ("yaml", "json", "csv"):
        r = cli("catalog", "export", "--format", fmt, "--data-dir", data_dir)
        assert r.exit_code == 0, r.output
        exported[fmt] = r.stdout
    doc = json.loads(exported["json"])
    tk = next(s for s in doc["sensors"] if s["tag"] == "TK1-LT")
    assert (tk["ll"], tk["l"], tk["h"], tk["hh"], tk["priority_hh"]) == (0.5, 1.0, 17.0, 18.5, "urgent")
    assert [o["code"] for o in doc["orgs"]] == ["R-T", "P-T", "E-T", "E-OTHER"]
    assert exported["csv"].splitlines()[0].startswith("tag,name,kind,unit,range_low,range_high,ll,l,h,hh,device")
    # each export imports into a fresh installation and exports identically
    for fmt in ("yaml", "json"):
        f = tmp_path / f"again.{fmt}"
        f.write_text(exported[fmt])
        other = str(tmp_path / f"fresh-{fmt}")
        assert cli("catalog", "import", str(f), "--data-dir", other).exit_code == 0
        assert cli("catalog", "export", "--format", fmt, "--data-dir", other).stdout == exported[fmt]
    # the CSV re-imports over the existing catalog as updates
    f = tmp_path / "sensors.csv"
    f.write_text(exported["csv"])
    r = cli("catalog", "import", str(f), "--data-dir", data_dir)
    assert r.exit_code == 0 and "sensors: 0 created, 0 updated, 4 unchanged" in r.output
    assert cli("catalog", "export", "--format", "csv", "--data-dir", data_dir).stdout == exported["csv"]


BAD_YAML = """
version: 1
orgs:
  - {code: P1, name: Park, kind: park}
devices:
  - {code: D1, name: DCS, org: E-NOWHERE}
sensors:
  - {tag: T1, name: ok, kind: level, unit: m, device: D1, range_low: 0, range_high: 10, h: 8}
  - {tag: T2, name: bad, kind: level, unit: m, device: D1, range_low: 0, range_high: 10, h: 9, hh: 7}
  - {tag: T3, name: bad, kind: lasers, unit: m, device: D1, range_low: 0, range_high: 10}
  - {tag: T4, name: bad, kind: level, unit: m, device: D1, range_low: 5, range_high: 1}
"""


def test_bad_catalog_is_refused_whole_with_file_path_and_reason(data_dir, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(BAD_YAML)
    r = cli("catalog", "import", str(f), "--data-dir", data_dir)
    assert r.exit_code == 2
    out = r.stderr
    assert "nothing applied" in out
    assert f"{f}: sensors[1]: limits out of order: h=9.0 is above hh=7.0" in out
    assert f"{f}: sensors[2].kind: Input should be" in out
    assert f"{f}: sensors[3]: range_low 5.0 must be below range_high 1.0" in out
    # the structurally valid file with a bad reference is refused too, and nothing is applied
    f.write_text(BAD_YAML.split("  - {tag: T2")[0])
    r = cli("catalog", "import", str(f), "--data-dir", data_dir)
    assert r.exit_code == 2
    assert f"{f}: orgs[0].parent: a park cannot have no parent above it" in r.stderr
    assert f"{f}: devices[0].org: unknown org 'E-NOWHERE'" in r.stderr
    assert json.loads(cli("catalog", "export", "--format", "json", "--data-dir", data_dir).stdout)["sensors"] == []


def test_bad_csv_names_line_and_column(data_dir, tmp_path):
    assert cli("catalog", "import", str(DATA / "catalog.yaml"), "--data-dir", data_dir).exit_code == 0
    f = tmp_path / "s.csv"
    f.write_text("tag,name,kind,unit,range_low,range_high,h,device\n"
                 "N1,new,level,m,0,10,8,DCS-T\n"
                 "N2,new,level,m,0,ten,8,DCS-T\n"
                 "N3,new,level,m,0,10,8,DCS-NOPE\n")
    r = cli("catalog", "import", str(f), "--data-dir", data_dir)
    assert r.exit_code == 2
    assert f"{f}: line 3: column range_high: Input should be a valid number" in r.stderr
    f.write_text("tag,name,kind,unit,range_low,range_high,h,device,colour\nN1,new,level,m,0,10,8,DCS-T,red\n")
    r = cli("catalog", "import", str(f), "--data-dir", data_dir)
    assert r.exit_code == 2 and f"{f}: line 1: unknown columns: colour" in r.stderr
    f.write_text("tag,name,kind,unit,range_low,range_high,h,device\nN3,new,level,m,0,10,8,DCS-NOPE\n")
    r = cli("catalog", "import", str(f), "--data-dir", data_dir)
    assert r.exit_code == 2 and f"{f}: sensors[0].device: unknown device 'DCS-NOPE'" in r.stderr
    tags = [s["tag"] for s in json.loads(cli("catalog", "export", "--format", "json",
                                              "--data-dir", data_dir).stdout)["sensors"]]
    assert "N1" not in tags


@pytest.mark.parametrize(("text", "suffix", "needle"), [
    ("orgs:\n  - code: A\n   name: [\n", ".yaml", "line 3: invalid YAML"),
    ('{"orgs": [}', ".json", "line 1: invalid JSON"),
    ("- just\n- a list\n", ".yaml", "must be a mapping"),
    ("orgs: []", ".txt", "unknown catalog format '.txt'"),
])
def test_unreadable_files_are_refused_with_the_reason(data_dir, tmp_path, text, suffix, needle):
    f = tmp_path / f"c{suffix}"
    f.write_text(text)
    r = cli("catalog", "import", str(f), "--data-dir", data_dir)
    assert r.exit_code == 2 and needle in r.stderr, r.stderr


def test_published_schema_matches_the_code_and_validates_the_example():
    import jsonschema
    import yaml

    published = json.loads((ROOT / "docs" / "schema" / "catalog.schema.json").read_text())
    assert published == json_schema(), "run `hazwatch catalog schema > docs/schema/catalog.schema.json`"
    jsonschema.validate(yaml.safe_load((DATA / "catalog.yaml").read_text()), published)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"sensors": [{"tag": "x"}]}, published)


def test_demo_park_catalog_is_valid_and_about_two_hundred_sensors():
    from hazwatch.sim import park_catalog

    doc = park_catalog()
    assert 180 <= len(doc.sensors) <= 220
    kinds = {s.kind for s in doc.sensors}
    assert {"level", "temperature", "pressure", "combustible_gas", "toxic_gas", "oxygen"} <= kinds
    gas = next(s for s in doc.sensors if s.kind == "combustible_gas")
    assert (gas.h, gas.hh) == (25, 50)  # GB/T 50493-2019 level 1 / level 2


def test_a_command_line_import_is_audited_under_the_org_that_holds_each_item(data_dir):
    """The audit log reads the same whoever changed the catalog: a sensor imported from the command
    line is logged as a `sensor` of its device's enterprise, so that enterprise's officers see it."""
    from sqlalchemy import select

    from hazwatch.auth.models import AuditEntry
    from hazwatch.catalog.models import Device, Org, Sensor
    from hazwatch.db import make_engine

    assert cli("catalog", "import", str(DATA / "catalog.yaml"), "--data-dir", data_dir).exit_code == 0
    engine = make_engine(f"sqlite:///{Path(data_dir) / 'hazwatch.db'}")
    with engine.connect() as conn:
        entries = conn.execute(select(AuditEntry.object_type, AuditEntry.object_id, AuditEntry.org_id,
                                      AuditEntry.actor)).all()
        owner = dict(conn.execute(select(Sensor.tag, Device.org_id).join(Device, Device.id == Sensor.device_id)).all())
        orgs = dict(conn.execute(select(Org.code, Org.id)).all())
    engine.dispose()
    sensors = {e.object_id: e.org_id for e in entries if e.object_type == "sensor"}
    assert sensors and sensors == owner
    assert {e.object_id: e.org_id for e in entries if e.object_type == "org"} == orgs
    assert all(e.actor.startswith("cli:") for e in entries)
