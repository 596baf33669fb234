"""GB 18218-2018 grading and the LEC and matrix bands, on worked examples and on their edges."""

from __future__ import annotations

import itertools
import json

import pytest
from typer.testing import CliRunner

from hazwatch.cli.main import app
from hazwatch.domain.errors import Invalid
from hazwatch.risk.assess import LEC_C, LEC_E, LEC_L, Bands, lec, matrix, worst
from hazwatch.risk.grading import alpha, evaluate, level
from hazwatch.risk.substances import categories, find, named


def test_the_worked_example_of_safety_md():
    # 40 t chlorine (Q 5, β 4) and 100 t LPG (Q 50, W2, β 1.5), 60 people nearby (α 1.5)
    g = evaluate([{"name": "chlorine", "quantity_t": 40}, {"name": "LPG", "quantity_t": 100}], 60)
    assert (g.S, g.alpha, g.R, g.is_major_hazard, g.level) == (10.0, 1.5, 52.5, True, 2)
    assert [(t.ratio, t.beta, t.weighted) for t in g.terms] == [(8.0, 4.0, 32.0), (2.0, 1.5, 3.0)]


def test_a_small_store_is_not_a_major_hazard():
    g = evaluate([{"name": "methanol", "quantity_t": 100}, {"cas": "71-43-2", "quantity_t": 20}], 0)
    assert pytest.approx(0.6) == g.S and not g.is_major_hazard and g.level is None
    assert pytest.approx(0.5 * (0.2 + 0.4)) == g.R


def test_the_park_tank_area_by_hand():
    # methanol 4000/500, benzene 900/50, toluene 1200/500, all β 1; 60 people → α 1.5
    g = evaluate([{"name": "methanol", "quantity_t": 4000}, {"name": "benzene", "quantity_t": 900},
                  {"name": "toluene", "quantity_t": 1200}], 60)
    assert pytest.approx(28.4) == g.S and pytest.approx(42.6) == g.R and g.level == 3


@pytest.mark.parametrize("people, a", [(0, 0.5), (1, 1.0), (29, 1.0), (30, 1.2), (49, 1.2), (50, 1.5), (99, 1.5),
                                       (100, 2.0), (10_000, 2.0)])
def test_alpha_by_exposed_people(people, a):
    assert alpha(people) == a


@pytest.mark.parametrize("r, lv", [(250, 1), (100, 1), (99.999, 2), (50, 2), (49.999, 3), (10, 3), (9.999, 4), (0, 4)])
def test_level_edges(r, lv):
    assert level(r) == lv


def test_named_toxic_gases_take_their_own_beta():
    betas = {s.key: s.beta for s in named()}
    assert (betas["ammonia"], betas["hydrogen_chloride"], betas["chlorine"], betas["hydrogen_sulphide"],
            betas["nitrogen_dioxide"], betas["phosgene"]) == (2, 3, 4, 5, 10, 20)
    assert find("液氯").key == "chlorine" and find(cas="7664-41-7").key == "ammonia"


def test_an_unnamed_substance_needs_its_category():
    with pytest.raises(Invalid, match=r"'xylene'.*add `category`"):
        evaluate([{"name": "xylene", "quantity_t": 10}], 0)
    g = evaluate([{"name": "xylene", "category": "W5.4", "quantity_t": 10_000}], 0)
    assert (g.terms[0].critical_t, g.terms[0].beta, g.S) == (5000, 1, 2.0)
    with pytest.raises(Invalid, match="unknown hazard category 'W99'"):
        find("xylene", category="W99")
    assert {c: (r.q_t, r.beta) for c, r in categories().items() if c in ("J1", "W2", "W5.1", "W9.2")} == \
        {"J1": (5, 4), "W2": (10, 1.5), "W5.1": (10, 1.5), "W9.2": (200, 1)}


# -- LEC and matrix --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("l, e, c, d, colour", [
    (1, 0.5, 40, 20, "blue"),  # on the 20 edge: the lower band
    (3, 1, 7, 21, "yellow"),
    (1, 10, 7, 70, "yellow"),  # on the 70 edge
    (0.5, 6, 40, 120, "orange"),
    (3, 6, 15, 270, "red"),
    (10, 10, 100, 10_000, "red"),
])
def test_lec_examples_and_edges(l, e, c, d, colour):  # noqa: E741
    a = lec(l, e, c)
    assert (a.value, a.colour) == (d, colour)
    assert f"= {d:g}" in a.explanation


def test_every_lec_combination_lands_in_the_band_its_value_says():
    for lv, ev, cv in itertools.product(LEC_L, LEC_E, LEC_C):
        d = lv * ev * cv
        expected = "red" if d > 160 else "orange" if d > 70 else "yellow" if d > 20 else "blue"
        assert lec(lv, ev, cv).colour == expected, (lv, ev, cv)


def test_lec_refuses_values_outside_its_tables():
    with pytest.raises(Invalid, match=r"L = 5 is not in the LEC table; choose one of 10, 6, 3, 1, 0.5, 0.2, 0.1"):
        lec(5, 6, 7)
    with pytest.raises(Invalid, match="E = 4"):
        lec(1, 4, 7)
    with pytest.raises(Invalid, match="C = 50"):
        lec(1, 6, 50)


@pytest.mark.parametrize("l, s, colour", [(1, 3, "blue"), (2, 2, "yellow"), (3, 3, "yellow"), (2, 5, "orange"),
                                          (4, 4, "orange"), (4, 5, "red"), (5, 5, "red")])
def test_matrix_band_edges(l, s, colour):  # noqa: E741
    assert matrix(l, s).colour == colour


def test_matrix_refuses_factors_outside_one_to_five_and_bands_are_configurable():
    with pytest.raises(Invalid, match="severity = 6"):
        matrix(1, 6)
    with pytest.raises(Invalid, match="likelihood = 0"):
        matrix(0, 1)
    strict = Bands(lec_red=100, matrix_blue=2, matrix_yellow=6, matrix_orange=12)
    assert lec(0.5, 6, 40, strict).colour == "red" and matrix(3, 1, strict).colour == "yellow"
    with pytest.raises(ValueError, match="must fall"):
        Bands(lec_red=50, lec_orange=70)
    assert worst(["blue", "orange", "yellow"]) == "orange" and worst([]) is None


# -- the command line ------------------------------------------------------------------------------------------
def test_cli_grades_a_file_and_a_catalog(tmp_path):
    body = tmp_path / "store.yaml"
    body.write_text("substances:\n  - {name: chlorine, quantity_t: 40}\n  - {cas: 68476-85-7, quantity_t: 100}\n"
                    "exposed_people: 60\n")
    r = CliRunner().invoke(app, ["risk", "grade", str(body), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert (out["S"], out["R"], out["level"]) == (10.0, 52.5, 2)
    r = CliRunner().invoke(app, ["risk", "grade", str(body)])
    assert "major hazard, level 2" in r.output and "R = 52.5" in r.output
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("hazard_sources:\n  - {code: HS-1, name: a, org: E, exposed_people: 0, substances: "
                       "[{name: ammonia, quantity_t: 5}]}\n  - {code: HS-2, name: b, org: E, substances: "
                       "[{name: mystery, quantity_t: 5}]}\n")
    r = CliRunner().invoke(app, ["risk", "grade", str(catalog), "--json"])
    assert r.exit_code == 2
    assert "HS-2: substance not in GB 18218-2018 table 1 (name 'mystery')" in r.output
    assert json.loads(r.output[r.output.index("{"):])["HS-1"]["S"] == 0.5
