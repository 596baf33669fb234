"""RFC 8785 (JSON Canonicalization Scheme) encoding of ledger entries and of the records they seal.

A digest is only reproducible if everyone serializes the same record to the same bytes: keys sorted
by UTF-16 code units, no whitespace, numbers as ECMAScript prints them (1.0 is "1", 1e21 is
"1e+21"), strings escaped minimally. `rfc8785` is the reference implementation but costs ~12 µs per
small record; orjson with sorted keys produces the same bytes for ASCII keys once floats are given
their ECMAScript form, at ~1 µs. Records with other keys go to the reference implementation. The
tests hold the fast path equal to `rfc8785` over generated data.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import rfc8785

_OPTS = orjson.OPT_SORT_KEYS


def es_number(x: float) -> str:
    """A float as ECMAScript's Number.prototype.toString writes it (RFC 8785 §3.2.2.3)."""
    if math.isnan(x) or math.isinf(x):
        raise ValueError(f"{x!r} has no JSON form: RFC 8785 refuses NaN and infinities")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    digits, _, exp = repr(abs(x)).partition("e")
    intpart, _, frac = digits.partition(".")
    frac = frac.rstrip("0") if frac != "0" else ""
    # shortest round-trip digits and the decimal exponent n of ECMAScript's algorithm
    d = (intpart + frac).lstrip("0")
    n = len(intpart) + (int(exp) if exp else 0)
    if intpart == "0":
        lead = len(frac) - len(frac.lstrip("0"))
        n = -lead + (int(exp) if exp else 0)
    d = d.rstrip("0") or "0"
    k = len(d)
    if k <= n <= 21:
        return sign + d + "0" * (n - k)
    if 0 < n <= 21:
        return sign + d[:n] + "." + d[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + d
    e = n - 1
    mant = d[0] + ("." + d[1:] if k > 1 else "")
    return f"{sign}{mant}e{'+' if e >= 0 else '-'}{abs(e)}"


class _NotFast(Exception):
    pass


def _prep(o: Any) -> Any:
    t = type(o)
    if t is dict:
        out = {}
        for k, v in o.items():
            if type(k) is not str or not k.isascii():
                raise _NotFast
            out[k] = _prep(v)
        return out
    if t is list or t is tuple:
        return [_prep(v) for v in o]
    if t is float:
        return orjson.Fragment(es_number(o).encode())
    if t is str or t is int or t is bool or o is None:
        return o
    raise TypeError(f"{t.__name__} has no canonical JSON form")


def canonical(obj: Any) -> bytes:
    """The RFC 8785 bytes of a JSON value (dicts, lists, str, int, float, bool, None)."""
    try:
        return orjson.dumps(_prep(obj), option=_OPTS)
    except _NotFast:
        return rfc8785.dumps(obj)
