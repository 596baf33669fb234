"""The rule language, parsed into a small tree. A rule is one condition, optionally held for a time:

    TT-101 > 180 and PT-101 >= 1.5 for 30s
    2 of (GT-101 > 25, GT-102 > 25, GT-103 > 25)
    running(P-101) and not (FT-101 > 2 or LT-101 < 10) for 2m

    condition := or ["for" DURATION]          DURATION: 500ms, 30s, 5m, 2h
    or        := and ("or" and)*
    and       := not ("and" not)*
    not       := "not" not | atom
    atom      := "(" or ")" | INT "of" "(" or ("," or)* ")" | "running(" TAG ")" | "stopped(" TAG ")"
               | operand OP operand                OP: > >= < <= == !=
    operand   := TAG | NUMBER                       TAG: as in the catalog; quote it ('101') if it
                                                    reads as a number, a duration or a keyword
                                                    (101-TT and 1#TK are tags as they stand)

`running(TAG)` is a state sensor at 1 (0.5 or more), `stopped(TAG)` below 0.5. Words are case
insensitive; tags are not. The parser is written out by hand, not generated: the grammar is a
dozen lines, and each error names the column and what was expected, which is what a person
editing a catalog needs."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

KEYWORDS = {"and", "or", "not", "of", "for", "running", "stopped"}
OPS = (">=", "<=", "==", "!=", ">", "<")
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<op>>=|<=|==|!=|>|<)
  | (?P<punct>[(),])
  | (?P<quoted>'[^']*'|"[^"]*")
  | (?P<duration>\d+(?:\.\d+)?(?:ms|s|m|h)(?![^\s(),<>=!'"]))
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![^\s(),<>=!'"]))
  | (?P<word>[^\s(),<>=!'"]+)
""", re.VERBOSE)
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class RuleError(ValueError):
    """A rule that does not parse; `column` is 1-based in the rule text."""

    def __init__(self, text: str, column: int, message: str) -> None:
        self.text, self.column, self.message = text, column, message
        super().__init__(f"column {column}: {message}\n  {text}\n  {' ' * (column - 1)}^")


# -- the tree -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Compare:
    left: str | float
    op: str
    right: str | float

    def text(self) -> str:
        return f"{_fmt(self.left)} {self.op} {_fmt(self.right)}"


@dataclass(frozen=True)
class State:
    tag: str
    running: bool

    def text(self) -> str:
        return f"{'running' if self.running else 'stopped'}({_fmt(self.tag)})"


@dataclass(frozen=True)
class Not:
    child: Node

    def text(self) -> str:
        return f"not ({self.child.text()})"


@dataclass(frozen=True)
class All:
    children: tuple[Node, ...]

    def text(self) -> str:
        return " and ".join(f"({c.text()})" for c in self.children)


@dataclass(frozen=True)
class Any_:
    children: tuple[Node, ...]

    def text(self) -> str:
        return " or ".join(f"({c.text()})" for c in self.children)


@dataclass(frozen=True)
class Vote:
    k: int
    children: tuple[Node, ...]

    def text(self) -> str:
        return f"{self.k} of ({', '.join(c.text() for c in self.children)})"


Node = Compare | State | Not | All | Any_ | Vote


@dataclass(frozen=True)
class Rule:
    text: str
    condition: Node
    hold_s: float  # the condition must stay true this long (the "for" clause); 0 = at once

    def tags(self) -> list[str]:
        out: list[str] = []

        def walk(n: Node) -> None:
            if isinstance(n, Compare):
                out.extend(x for x in (n.left, n.right) if isinstance(x, str))
            elif isinstance(n, State):
                out.append(n.tag)
            elif isinstance(n, Not):
                walk(n.child)
            else:
                for c in n.children:
                    walk(c)

        walk(self.condition)
        return list(dict.fromkeys(out))


def _fmt(x: str | float) -> str:
    """An operand as rule text that parses back to the same operand: numbers in full (the shortest
    repr that reads back exactly), tags quoted where they would read as a number or a keyword."""
    if not isinstance(x, str):
        return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)
    try:
        toks = _tokens(x)
    except RuleError:
        toks = []
    if len(toks) == 2 and toks[0].kind == "tag" and toks[0].value == x and x[0] not in "'\"":
        return x
    return f'"{x}"' if "'" in x else f"'{x}'"


# -- the parser ---------------------------------------------------------------------------------------
@dataclass
class _Tok:
    kind: str  # op, punct, tag, number, duration, kw, end
    value: str
    col: int


def _tokens(text: str) -> list[_Tok]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise RuleError(text, pos + 1, f"unexpected character {text[pos]!r}")
        kind, value = m.lastgroup, m.group()
        if kind == "quoted":
            out.append(_Tok("tag", value[1:-1], pos + 1))
        elif kind == "word":
            low = value.lower()
            out.append(_Tok("kw", low, pos + 1) if low in KEYWORDS else _Tok("tag", value, pos + 1))
        elif kind != "space":
            out.append(_Tok(kind, value, pos + 1))
        pos = m.end()
    out.append(_Tok("end", "", len(text) + 1))
    return out


MAX_DEPTH = 50  # nesting (parentheses, `not`, `k of`) a person writes stays far below this


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    def nest(self, t: _Tok) -> None:
        """Refuse nesting deeper than MAX_DEPTH: a parser and an evaluator that recurse would
        otherwise run out of stack on a hostile rule instead of answering with a reason."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RuleError(self.text, t.col, f"the rule nests more than {MAX_DEPTH} levels deep")

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def fail(self, expected: str) -> RuleError:
        t = self.tok
        got = "the end of the rule" if t.kind == "end" else repr(t.value)
        return RuleError(self.text, t.col, f"expected {expected}, found {got}")

    def take(self, kind: str, value: str | None = None) -> _Tok | None:
        t = self.tok
        if t.kind == kind and (value is None or t.value == value):
            self.i += 1
            return t
        return None

    def need(self, kind: str, value: str, expected: str) -> _Tok:
        t = self.take(kind, value)
        if t is None:
            raise self.fail(expected)
        return t

    def rule(self) -> Rule:
        if self.tok.kind == "end":
            raise RuleError(self.text, 1, "the rule is empty")
        cond = self.or_()
        hold = 0.0
        if self.take("kw", "for"):
            d = self.take("duration")
            if d is None:
                raise self.fail("a duration such as 30s, 5m or 2h after 'for'")
            m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", d.value)
            assert m is not None
            hold = float(m.group(1)) * _UNIT_S[m.group(2)]
        if self.tok.kind != "end":
            raise self.fail("'and', 'or', 'for' or the end of the rule")
        return Rule(self.text, cond, hold)

    def or_(self) -> Node:
        parts = [self.and_()]
        while self.take("kw", "or"):
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else Any_(tuple(parts))

    def and_(self) -> Node:
        parts = [self.not_()]
        while self.take("kw", "and"):
            parts.append(self.not_())
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def not_(self) -> Node:
        t = self.tok
        if self.take("kw", "not"):
            self.nest(t)
            inner = self.not_()
            self.depth -= 1
            return Not(inner)
        return self.atom()

    def atom(self) -> Node:
        t = self.tok
        if self.take("punct", "("):
            self.nest(t)
            inner = self.or_()
            self.need("punct", ")", "')'")
            self.depth -= 1
            return inner
        if t.kind == "kw" and t.value in ("running", "stopped"):
            self.i += 1
            self.need("punct", "(", f"'(' after {t.value}")
            tag = self.take("tag")
            if tag is None:
                raise self.fail("a sensor tag")
            self.need("punct", ")", "')'")
            return State(tag.value, t.value == "running")
        if t.kind == "number" and self.toks[self.i + 1].kind == "kw" and self.toks[self.i + 1].value == "of":
            k_tok = t
            if not re.fullmatch(r"\d+", t.value):
                raise RuleError(self.text, t.col, f"the count before 'of' must be a whole number, not {t.value!r}")
            self.i += 2
            self.nest(k_tok)
            self.need("punct", "(", "'(' after 'of'")
            members = [self.or_()]
            while self.take("punct", ","):
                members.append(self.or_())
            self.need("punct", ")", "',' or ')'")
            self.depth -= 1
            k = int(k_tok.value)
            if not 1 <= k <= len(members):
                raise RuleError(self.text, k_tok.col, f"{k} of {len(members)}: the count must be between 1 and "
                                                      f"the number of conditions")
            return Vote(k, tuple(members))
        left = self.operand()
        op = self.take("op")
        if op is None:
            raise self.fail(f"a comparison ({', '.join(OPS)}) after {_fmt(left)!s}")
        right = self.operand()
        if isinstance(left, float) and isinstance(right, float):
            raise RuleError(self.text, t.col, "a comparison needs at least one sensor tag")
        return Compare(left, op.value, right)

    def operand(self) -> str | float:
        t = self.tok
        if t.kind == "tag":
            self.i += 1
            return t.value
        if t.kind == "number":
            x = float(t.value)
            if not math.isfinite(x):
                raise RuleError(self.text, t.col, f"the number {t.value} is out of range")
            self.i += 1
            return x
        raise self.fail("a sensor tag or a number")


def parse(text: str) -> Rule:
    """Parse one rule; RuleError says where it went wrong."""
    return _Parser(text.strip()).rule()
