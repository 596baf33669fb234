"""The rule parser under generated input: any text is either a rule or a RuleError that points
into the text (never another exception, which the catalog would answer as a server error), and a
rule tree written out as text reads back as the same tree (the explanations operators see are
written that way)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hazwatch.catalog.schema import RuleDoc
from hazwatch.domain.rulelang import MAX_DEPTH, OPS, All, Any_, Compare, Not, RuleError, State, Vote, parse

# words the grammar knows, its punctuation and some of everything else, so generated text reaches
# deep into the parser instead of failing at the first character
_PIECES = st.sampled_from(["and", "or", "not", "of", "for", "running", "stopped", "(", ")", ",", " ", "2", "3",
                           "1.5", "-0.5", "1e999", "30s", "5m", "500ms", "TT-101", "PT_7", "'101'", '"x y"',
                           "'", '"', *OPS, "!", "=", "\t", "中文", "1e", ".", "+"])
_TEXTS = st.one_of(st.text(max_size=80), st.lists(_PIECES, max_size=40).map(" ".join),
                   st.lists(_PIECES, max_size=40).map("".join))


@settings(max_examples=1500, deadline=None)
@given(_TEXTS)
def test_any_text_is_a_rule_or_an_error_pointing_into_it(text):
    try:
        rule = parse(text)
    except RuleError as e:
        assert 1 <= e.column <= len(text.strip()) + 1
        assert e.message and str(e).startswith(f"column {e.column}: ")
    else:
        assert rule.tags(), "every rule names at least one sensor"
        assert rule.hold_s >= 0


# -- trees --------------------------------------------------------------------------------------------
_TAG = st.one_of(
    st.from_regex(r"[A-Z]{1,3}-[0-9]{1,4}[A-Z]?", fullmatch=True),
    st.sampled_from(["101", "for", "AND", "running", "1e5", "x y", "it's", "5m", "-2"]),  # must be quoted
    st.sampled_from(["101-TT", "1#TK-LT", "5min", "2.5.1", "1e5x"]),  # tags as they stand
    st.text(st.characters(blacklist_characters="'\"", blacklist_categories=("Cs",)), min_size=1, max_size=6)
    .filter(lambda t: t.strip() == t and t != ""),
)
_NUMBER = st.floats(allow_nan=False, allow_infinity=False)
_COMPARE = st.tuples(st.one_of(_TAG, _NUMBER), st.sampled_from(OPS), _TAG).flatmap(
    lambda t: st.sampled_from([Compare(t[0], t[1], t[2]), Compare(t[2], t[1], t[0])]))
_LEAF = st.one_of(_COMPARE, st.builds(State, _TAG, st.booleans()))


def _trees(children):
    many = st.lists(children, min_size=2, max_size=4).map(tuple)
    return st.one_of(
        st.builds(Not, children),
        many.map(All), many.map(Any_),
        many.flatmap(lambda cs: st.integers(1, len(cs)).map(lambda k: Vote(k, cs))),
    )


_TREES = st.recursive(_LEAF, _trees, max_leaves=12)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TREES)
def test_a_tree_written_out_reads_back_as_the_same_tree(tree):
    text = tree.text()
    assert parse(text).condition == tree, text


@settings(max_examples=200, deadline=None)
@given(_TREES, st.sampled_from(["", " for 30s", " for 500ms", " FOR 2h"]))
def test_the_hold_clause_reads_back(tree, hold):
    rule = parse(tree.text() + hold)
    assert rule.hold_s == {"": 0.0, " for 30s": 30.0, " for 500ms": 0.5, " FOR 2h": 7200.0}[hold]


def test_nesting_past_the_limit_is_refused_with_its_column_not_a_crash():
    with pytest.raises(RuleError) as e:
        parse("(" * (MAX_DEPTH + 1) + "TT-1 > 1" + ")" * (MAX_DEPTH + 1))
    assert e.value.column == MAX_DEPTH + 1 and "levels deep" in e.value.message
    assert parse("(" * MAX_DEPTH + "TT-1 > 1" + ")" * MAX_DEPTH).tags() == ["TT-1"]
    # the deepest rule the catalog's 2,000 characters allow ran the parser out of stack
    with pytest.raises(ValueError, match="levels deep"):
        RuleDoc(code="R1", name="deep", org="E1", when="not " * 495 + "TT-1 > 1")


def test_a_number_too_large_for_a_float_is_refused():
    with pytest.raises(RuleError) as e:
        parse("TT-1 > 1e999")
    assert e.value.column == 8 and "out of range" in e.value.message


@pytest.mark.parametrize("text,tags", [("101-TT > 5", ["101-TT"]), ("1#TK-LT >= 2.5", ["1#TK-LT"]),
                                       ("running(2#P-101) and 5min < 3", ["2#P-101", "5min"])])
def test_tags_that_begin_with_digits_read_as_tags(text, tags):
    assert parse(text).tags() == tags
