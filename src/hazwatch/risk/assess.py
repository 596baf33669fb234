"""Risk-point assessment (SAFETY.md §4): LEC (D = L × E × C, each factor from its standard table)
and the 5 × 5 risk matrix (R = L × S), each mapped to the four colours by configurable bands.

Band edges follow the LEC table's own wording (D > 320, 160 < D ≤ 320, 70 < D ≤ 160, 20 < D ≤ 70,
D ≤ 20): a value on an edge belongs to the lower band. The matrix bands are inclusive ranges of
the products that can occur (1–3, 4–9, 10–16, 20–25)."""

from __future__ import annotations

from dataclasses import dataclass

from hazwatch.domain.errors import Invalid

COLOURS = ("blue", "yellow", "orange", "red")  # low → major; the order is the severity

# The standard's value tables: the only values an assessor may pick.
LEC_L = {10: "fully expected", 6: "quite possible", 3: "possible but unusual", 1: "unlikely",
         0.5: "very unlikely", 0.2: "hardly conceivable", 0.1: "practically impossible"}
LEC_E = {10: "continuous", 6: "daily in working hours", 3: "weekly or occasional", 2: "monthly",
         1: "a few times a year", 0.5: "very rare"}
LEC_C = {100: "ten or more deaths", 40: "three to nine deaths", 15: "one or two deaths", 7: "serious injury",
         3: "disabling injury", 1: "noticeable injury"}
LEC_ACTION = ((320, "stop work"), (160, "fix immediately"), (70, "needs fixing"), (20, "needs attention"))


@dataclass(frozen=True)
class Bands:
    """Colour bands; defaults are SAFETY.md's. LEC: D above `lec_red` is red, above `lec_orange`
    orange, above `lec_yellow` yellow, else blue. Matrix: up to `matrix_blue` blue, up to
    `matrix_yellow` yellow, up to `matrix_orange` orange, else red."""

    lec_red: float = 160
    lec_orange: float = 70
    lec_yellow: float = 20
    matrix_blue: int = 3
    matrix_yellow: int = 9
    matrix_orange: int = 16

    def __post_init__(self) -> None:
        if not self.lec_red > self.lec_orange > self.lec_yellow >= 0:
            raise ValueError("LEC bands must fall: lec_red > lec_orange > lec_yellow >= 0")
        if not 1 <= self.matrix_blue < self.matrix_yellow < self.matrix_orange < 25:
            raise ValueError("matrix bands must rise: 1 <= matrix_blue < matrix_yellow < matrix_orange < 25")


@dataclass(frozen=True)
class Assessment:
    method: str  # lec | matrix
    value: float  # D or R
    colour: str
    explanation: str


def _pick(table: dict, value: float | None, name: str) -> float:
    if value is None:
        raise Invalid(f"an LEC assessment needs {name}; choose one of {', '.join(f'{k:g}' for k in table)}")
    if value not in table:
        allowed = ", ".join(f"{k:g}" for k in table)
        raise Invalid(f"{name} = {value:g} is not in the LEC table; choose one of {allowed}")
    return value


def lec(likelihood: float, exposure: float, consequence: float, bands: Bands | None = None) -> Assessment:
    b = bands or Bands()
    lv, ev, cv = _pick(LEC_L, likelihood, "L"), _pick(LEC_E, exposure, "E"), _pick(LEC_C, consequence, "C")
    d = lv * ev * cv
    colour = "red" if d > b.lec_red else "orange" if d > b.lec_orange else "yellow" if d > b.lec_yellow else "blue"
    action = next((a for floor, a in LEC_ACTION if d > floor), "acceptable")
    return Assessment("lec", d, colour, f"D = L {lv:g} ({LEC_L[lv]}) × E {ev:g} ({LEC_E[ev]}) × C {cv:g} "
                                        f"({LEC_C[cv]}) = {d:g}: {action}, {colour}")


def matrix(likelihood: int, severity: int, bands: Bands | None = None) -> Assessment:
    b = bands or Bands()
    for name, v in (("likelihood", likelihood), ("severity", severity)):
        if v not in (1, 2, 3, 4, 5):
            raise Invalid(f"matrix {name} = {v} must be 1, 2, 3, 4 or 5")
    r = likelihood * severity
    colour = ("blue" if r <= b.matrix_blue else "yellow" if r <= b.matrix_yellow
              else "orange" if r <= b.matrix_orange else "red")
    return Assessment("matrix", r, colour, f"R = L {likelihood} × S {severity} = {r}: {colour}")


def worst(colours) -> str | None:
    """The most severe of the colours given (None for none)."""
    ranked = [COLOURS.index(c) for c in colours if c in COLOURS]
    return COLOURS[max(ranked)] if ranked else None
