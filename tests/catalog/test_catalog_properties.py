"""The catalog loader under generated input. Any file is a catalog or a CatalogError whose every
problem names the file (never another exception, which an import would answer as a crash); a
catalog written out in any format reads back the same; and applying any document to a stored
catalog either applies it whole or refuses it with reasons and changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hazwatch.catalog.errors import CatalogError
from hazwatch.catalog.io import dump_document, load_text, parse_document
from hazwatch.catalog.schema import CSV_COLUMNS, CatalogDoc
from tests.conftest import build_services, make_settings

SOURCE = "upload.yaml"
_pieces = st.sampled_from(["orgs:", "sensors:", "- ", "  ", "\n", "tag: T1", "code: E1", "{", "}", "[", "]", ":",
                           ",", '"', "'", "!!python/object:os.system", "&a", "*a", "<<: *a", "- {code: X}", "1e999",
                           "nan", "\t", "%YAML 1.2", "---", "...", "range_low: 5", "range_high: 1", "中文"])
_texts = st.one_of(st.text(max_size=200), st.lists(_pieces, max_size=60).map("".join))


def _refused_with_reasons(e: CatalogError, source: str) -> None:
    assert e.problems and all(p.startswith(f"{source}: ") for p in e.problems), e.problems


@settings(max_examples=600, deadline=None)
@given(_texts, st.sampled_from(["yaml", "json", "csv"]))
def test_any_text_is_a_catalog_or_refused_naming_the_file(text, fmt):
    source = f"upload.{fmt}"
    try:
        doc = load_text(text, fmt, source)
    except CatalogError as e:
        _refused_with_reasons(e, source)
    else:
        assert isinstance(doc, CatalogDoc)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(CSV_COLUMNS + ["extra"]), min_size=1, max_size=12, unique=True),
       st.lists(st.lists(st.sampled_from(["", "x", "T-1", "level", "m", "0", "10", "5", "-1", "yes", "maybe",
                                           "1e999", "nan", '"a,b"', "中文"]), max_size=14), max_size=5))
def test_any_csv_table_is_sensors_or_refused_line_by_line(header, rows):
    text = ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    try:
        load_text(text, "csv", "tags.csv")
    except CatalogError as e:
        _refused_with_reasons(e, "tags.csv")
        assert all("line " in p for p in e.problems)


# -- documents built from the catalog's own vocabulary ------------------------------------------------------
ORGS, DEVICES, TAGS = ["R1", "P1", "E1", "E2"], ["D1", "D2"], ["T1", "T2", "T3"]
_num = st.one_of(st.integers(-100, 100), st.floats(-1e6, 1e6, allow_nan=False))
_org = st.fixed_dictionaries({"code": st.sampled_from(ORGS), "name": st.sampled_from(["o", "机构"]),
                              "kind": st.sampled_from(["region", "park", "enterprise", "regulator"])},
                             optional={"parent": st.sampled_from([*ORGS, "NOPE"])})
_device = st.fixed_dictionaries({"code": st.sampled_from(DEVICES), "name": st.just("d"),
                                 "org": st.sampled_from([*ORGS, "NOPE"])})
_limits = st.lists(_num, min_size=6, max_size=6).map(sorted)  # ordered: mostly a valid sensor
_sensor = st.tuples(
    st.fixed_dictionaries(
        {"tag": st.sampled_from(TAGS), "name": st.just("s"), "kind": st.sampled_from(["level", "pressure", "state"]),
         "unit": st.sampled_from(["m", "MPa", ""]), "device": st.sampled_from([*DEVICES, DEVICES[0], "DX"])},
        optional={"deadband": _num,
                  "suppress_when": st.sampled_from(["stopped(T1)", "T2 > 5", "((", "stopped(NOPE)"])}),
    _limits, st.sets(st.sampled_from(["ll", "l", "h", "hh"])), st.one_of(st.none(), st.sampled_from(
        ["range_low", "range_high", "ll", "l", "h", "hh"])), _num,
).map(lambda t: {**t[0], "range_low": t[1][0], "range_high": t[1][5],
                 **{k: t[1][i + 1] for i, k in enumerate(("ll", "l", "h", "hh")) if k in t[2]},
                 **({t[3]: t[4]} if t[3] else {})})  # one field may be put anywhere: out of order or range
_rule = st.fixed_dictionaries({"code": st.sampled_from(["RU1", "RU2"]), "name": st.just("r"),
                               "org": st.sampled_from(ORGS),
                               "when": st.sampled_from(["T1 > 5", "2 of (T1 > 1, T2 > 1, T3 > 1)", "T1 >", "NOPE < 1",
                                                        "running(T3) and T1 > 2 for 30s"])})
# a region, its park and two enterprises, then what the document adds or gets wrong
_tree = [{"code": "R1", "name": "r", "kind": "region"}, {"code": "P1", "name": "p", "kind": "park", "parent": "R1"},
         {"code": "E1", "name": "e", "kind": "enterprise", "parent": "P1"},
         {"code": "E2", "name": "e", "kind": "enterprise", "parent": "P1"}]
_docs = st.fixed_dictionaries({}, optional={"orgs": st.one_of(st.lists(_org, max_size=4), st.just(_tree)),
                                            "devices": st.lists(_device, max_size=2),
                                            "sensors": st.lists(_sensor, max_size=3),
                                            "rules": st.lists(_rule, max_size=2)})


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return build_services(make_settings(tmp_path_factory.mktemp("catalog")), catalog=None).catalog


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(_docs)
def test_a_document_applies_whole_or_is_refused_changing_nothing(catalog, data):
    before = catalog.export()
    try:
        doc = parse_document(data, SOURCE)
        catalog.apply(doc, SOURCE)
    except CatalogError as e:
        _refused_with_reasons(e, SOURCE)
        assert catalog.export() == before
    else:
        after = catalog.export()
        for section in ("orgs", "devices", "sensors", "rules"):
            stored = {getattr(x, "tag", None) or x.code: x for x in getattr(after, section)}
            for item in getattr(doc, section):
                key = getattr(item, "tag", None) or item.code
                assert stored[key] == item, (section, key)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_docs, st.sampled_from(["yaml", "json", "csv"]))
def test_a_catalog_written_out_reads_back_the_same(data, fmt):
    try:
        doc = parse_document(data, SOURCE)
    except CatalogError:
        return  # not a catalog: the refusal is the first test's concern
    back = load_text(dump_document(doc, fmt), fmt, f"export.{fmt}")
    if fmt == "csv":  # the CSV template carries the sensors alone
        assert back.sensors == doc.sensors
    else:
        assert back == doc
