"""An application pack: one benchmark application (a tank farm, a gas-detection area, ...) written
once, with the standards' numbers in it, and instantiated for any enterprise by parameters.

A pack is a folder with `pack.yaml` (this model) and a README that names its sources. Its
templates are catalog items (the catalog document's own fields, docs/schema/catalog.schema.json)
whose strings may hold `{placeholders}`: the pack's parameters, `org` (the enterprise the pack is
applied to) and, in an item with `for_each: PARAM`, `item` (the list element; an element that is
a mapping also lends its keys) and `i` (its 1-based position). A string that is one placeholder
alone takes the parameter's value with its type (a number stays a number). `clause` on a sensor
template names the standard clause its limits come from; it is shown, not stored.

`detectors` are multivariate detector definitions (a unit's sensors, the method, the false-alarm
rate): a model has to learn the enterprise's own normal running, so applying a pack records them
and `hazwatch pack fit` fits each on the enterprise's stored history, making it a catalog unit."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hazwatch.catalog.schema import PriorityName, SensorKind
from hazwatch.detect.multivariate.base import DEFAULT_METHOD, METHODS
from hazwatch.domain.errors import Invalid
from hazwatch.risk.assess import lec, matrix

FORMAT = "hazwatch-pack/1"
SECTIONS = ("hazard_sources", "devices", "sensors", "rules", "plans", "incident_triggers")


class PackError(ValueError):
    """A pack, or the parameters given to it, refused: every problem, each naming where."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("pack refused, nothing applied:\n  " + "\n  ".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Standard(_Strict):
    code: str = Field(min_length=1, description="e.g. GB/T 50493-2019")
    title: str = Field(min_length=1)
    applies_to: str = Field("", description="what in the pack follows it")


class Parameter(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: Literal["string", "number", "integer", "boolean", "list"]
    description: str = Field(min_length=1)
    default: Any = Field(None, description="omitted: the parameter must be given")
    min_items: int = Field(0, ge=0, description="lists: at least this many elements")


class Selection(_Strict):
    title: str = Field(min_length=1, max_length=200)
    kinds: list[SensorKind] = Field(min_length=1, description="the pack's sensors of these kinds")
    match: str = Field("", max_length=64, description="only tags containing this text (e.g. -CW)")


class Panel(Selection):
    """A console panel: the sensors' live values against their limits, and their trend."""


class ReportSection(Selection):
    """A report section: the alarms each of the sensors raised in the report's period."""


class Layouts(_Strict):
    dashboard: list[Panel] = Field([], description="panels of the enterprise's pack dashboard (console: Packs)")
    report: list[ReportSection] = Field([], description="sections added to the enterprise's periodic reports")


class Manifest(_Strict):
    format: Literal["hazwatch-pack/1"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$", description="semantic version")
    title: str = Field(min_length=1, max_length=200)
    industry: str = Field(min_length=1, description="e.g. hazardous_chemicals, metallurgy, dust")
    description: str = ""
    standards: list[Standard] = Field(min_length=1, description="what the pack's numbers come from")
    parameters: list[Parameter] = []
    hazard_sources: list[dict[str, Any]] = []
    devices: list[dict[str, Any]] = []
    sensors: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    incident_triggers: list[dict[str, Any]] = []
    detectors: list[dict[str, Any]] = Field([], description="multivariate detectors, fitted per enterprise by "
                                            "`hazwatch pack fit` (DetectorDoc)")
    risk_points: list[dict[str, Any]] = Field([], description="LEC or matrix assessments the pack starts the "
                                              "enterprise's dual-prevention register with (RiskPointDoc)")
    layouts: Layouts = Field(default_factory=lambda: Layouts(), description="the console dashboard and the "
                             "report sections the pack's sensors are shown in")

    @model_validator(mode="after")
    def _unique_parameters(self) -> Manifest:
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError(f"parameters: a name given twice in {names}")
        if "org" in names or "item" in names or "i" in names:
            raise ValueError("parameters: org, item and i are given by Hazwatch, not by a parameter")
        return self


class RiskPointDoc(_Strict):
    """A risk point as a pack declares it: LEC (L, E, C) or a 5 × 5 matrix (L, S), SAFETY.md §4."""

    name: str = Field(min_length=1, max_length=200)
    hazard_source: str | None = Field(None, description="code of the hazard source the point belongs to")
    location: str | None = Field(None, max_length=200)
    method: Literal["lec", "matrix"] = "lec"
    l: float  # noqa: E741 - the method's own letter
    e: float | None = None
    c: float | None = None
    s: int | None = None
    measures: str | None = Field(None, max_length=2000, description="the controls in place")

    @model_validator(mode="after")
    def _factors(self) -> RiskPointDoc:
        if self.method == "lec" and (self.e is None or self.c is None):
            raise ValueError("an LEC assessment needs l, e and c")
        if self.method == "matrix" and self.s is None:
            raise ValueError("a matrix assessment needs l and s")
        try:  # the assessment's own scales: a factor not on them is refused here, not at apply
            if self.method == "lec":
                lec(self.l, self.e, self.c)
            else:
                matrix(int(self.l), self.s)
        except Invalid as e:
            raise ValueError(e.message) from None
        return self


class DetectorDoc(_Strict):
    """A multivariate detector as a pack declares it: which sensors make one unit's rows, and how
    to fit it. Fitted on the enterprise's normal running, it becomes the catalog unit `code`."""

    code: str = Field(min_length=1, max_length=64, description="the unit's code once fitted")
    name: str = Field(min_length=1, max_length=200)
    hazard_source: str | None = Field(None, description="code of the hazard source the unit belongs to")
    columns: list[str] = Field(min_length=2, description="sensor tags: the unit's rows, one column each")
    method: str = Field(DEFAULT_METHOD, description=f"one of {', '.join(METHODS)}")
    target_far: float = Field(0.001, gt=0, lt=0.5, description="false-alarm rate the threshold is set for")
    priority: PriorityName = "medium"
    clear_rows: int = Field(5, ge=1, le=10_000)
    fit_hours: float = Field(24, gt=0, le=24 * 90, description="history a fit reads by default, hours back "
                                                                "from now")

    @model_validator(mode="after")
    def _known(self) -> DetectorDoc:
        if self.method not in METHODS:
            raise ValueError(f"method {self.method!r}: choose one of {', '.join(METHODS)}")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"columns: a sensor appears twice in {self.columns}")
        return self


def json_schema() -> dict:
    """The published schema of pack.yaml (docs/schema/pack.schema.json)."""
    schema = Manifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://hazwatch.dev/schema/pack.schema.json"
    schema["title"] = "Hazwatch application pack (pack.yaml)"
    schema["description"] = __doc__
    return schema
