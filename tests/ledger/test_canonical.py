"""The fast canonical encoder produces exactly the RFC 8785 bytes of the reference implementation."""

import math

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from hazwatch.ledger.canonical import canonical, es_number

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_fast_path_equals_the_reference(value):
    assert canonical(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("x,text", [(1.0, "1"), (-0.0, "0"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
                                    (1e-7, "1e-7"), (1e-6, "0.000001"), (123.456, "123.456"),
                                    (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
                                    (0.1 + 0.2, "0.30000000000000004")])
def test_numbers_print_as_ecmascript_does(x, text):
    assert es_number(x) == text


def test_non_ascii_keys_sort_by_utf16_through_the_reference():
    value = {"\U0001f600": 1, "\ufb01": 2, "a": 3.5}
    assert canonical(value) == rfc8785.dumps(value)


def test_nan_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="NaN"):
        canonical({"v": math.nan})


def test_telemetry_entries_are_canonical():
    from hazwatch.ledger.entries import telemetry_entry

    e = telemetry_entry(17, 1_795_581_600_000_000, 1_795_581_660_000_000, 60, "ab" * 32, "cd" * 32)
    assert e == rfc8785.dumps(__import__("orjson").loads(e))
    assert e.startswith(b'{"count":60,"encoding":"hazwatch-readings/1","kind":"telemetry","prev":"cdcd')
