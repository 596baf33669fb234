"""The catalog exchange document: one Pydantic model family is both the validator and the
published JSON Schema (docs/schema/catalog.schema.json), so the two cannot drift apart."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hazwatch.domain.rulelang import RuleError
from hazwatch.domain.rulelang import parse as parse_rule

Code = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
PriorityName = Literal["low", "medium", "high", "urgent"]
SensorKind = Literal[
    "temperature", "pressure", "level", "flow", "combustible_gas", "toxic_gas", "oxygen",
    "state", "vibration", "current", "concentration", "other",
]


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrgDoc(_Item):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["region", "park", "enterprise", "regulator"] = Field(
        description="region (a regulator's jurisdiction) ▸ park ▸ enterprise; `regulator` is read as `region`")
    parent: str | None = Field(None, description="code of the org above (region ▸ park ▸ enterprise)")

    @field_validator("kind")
    @classmethod
    def _region(cls, v: str) -> str:
        return "region" if v == "regulator" else v


class SiteDoc(_Item):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    org: str = Field(description="code of the enterprise that owns the site")
    longitude: float | None = Field(None, ge=-180, le=180)
    latitude: float | None = Field(None, ge=-90, le=90)


class SubstanceDoc(_Item):
    name: str = Field(min_length=1)
    cas: str | None = None
    category: str | None = Field(None, description="GB 18218-2018 hazard category (J1..J5, W1.1..W11) of a substance "
                                                   "its table 1 does not name")
    quantity_t: float = Field(ge=0, description="actual quantity in tonnes")


class HazardSourceDoc(_Item):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    org: str
    site: str | None = None
    kind: str = Field("unit", description="storage tank area, warehouse, production unit, ...")
    substances: list[SubstanceDoc] = []
    exposed_people: int = Field(0, ge=0, le=100_000_000, description="people outside the plant within 500 m")


class DeviceDoc(_Item):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    kind: str = "instrument"
    org: str = Field(description="code of the enterprise the device belongs to")
    site: str | None = None
    hazard_source: str | None = None


class EndpointDoc(_Item):
    """A field controller the server may connect to: an OPC UA server, a Modbus TCP server (or
    gateway) or an MQTT command-topic prefix on the server's broker, owned by one enterprise. Sensor
    sources and interlock targets name an endpoint of their own enterprise; the server opens no
    connection to an address that is not registered here. Only an administrator of the whole
    installation registers or changes one."""

    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    org: str = Field(description="code of the enterprise that owns the controller")
    address: str = Field(max_length=300, pattern=r"^(opc\.tcp://[^#\s]+|modbus://[^/\s#]+/?|mqtt://[^#+\s]+)$",
                         description="`opc.tcp://host:4840/path` (an OPC UA server), `modbus://host:502` (a Modbus "
                                     "TCP server) or `mqtt://TOPIC/PREFIX` (command topics at or under this prefix "
                                     "on the server's broker)")


class SensorDoc(_Item):
    tag: str = Field(min_length=1, max_length=64, pattern=r"^[^\s/]+$",
                     description="tag number (位号), unique in the installation")
    name: str = Field(min_length=1, max_length=200)
    kind: SensorKind
    unit: str = Field(max_length=20)
    device: str
    hazard_source: str | None = None
    range_low: float
    range_high: float
    ll: float | None = None
    l: float | None = None  # noqa: E741 - the standard's name
    h: float | None = None
    hh: float | None = None
    priority_ll: PriorityName = "high"
    priority_l: PriorityName = "medium"
    priority_h: PriorityName = "medium"
    priority_hh: PriorityName = "high"
    deadband: float = Field(0.0, ge=0, description="hysteresis in engineering units")
    on_delay_s: float = Field(0.0, ge=0, le=86400)
    off_delay_s: float = Field(0.0, ge=0, le=86400)
    longitude: float | None = Field(None, ge=-180, le=180)
    latitude: float | None = Field(None, ge=-90, le=90)
    in_use: bool = True
    interval_s: float | None = Field(None, gt=0, le=86400, description="expected reporting interval; no reading "
                                     "for interval_s × stale_intervals raises a STALE sensor fault")
    stale_intervals: int = Field(3, ge=1, le=1000)
    flatline_s: float | None = Field(None, gt=0, le=30 * 86400, description="a value that has not changed for "
                                     "this long raises a FLAT sensor fault (a stuck transmitter)")
    roc_limit: float | None = Field(None, gt=0, description="rate-of-change alarm (ROC): the most the value may "
                                    "move per minute, in engineering units, either way")
    roc_window_s: float = Field(60.0, gt=0, le=86400, description="the rate is the change over this window")
    roc_deadband: float = Field(0.0, ge=0, description="ROC clears once the rate is this far below roc_limit")
    trend_horizon_s: float | None = Field(None, gt=0, le=7 * 86400, description="early warning (TREND) when the "
                                          "robust trend is predicted to cross H (rising) or L (falling) within "
                                          "this many seconds")
    trend_window_s: float = Field(600.0, gt=0, le=7 * 86400, description="the history the trend is fitted on")
    suppress_when: str | None = Field(None, max_length=2000, description="state-based suppression: while this "
                                      "condition (rule language, e.g. `stopped(P-101)`) holds, the sensor's "
                                      "alarms are suppressed by design")
    source: str | None = Field(None, max_length=300, pattern=r"^opc\.tcp://[^#\s]+#\S+$",
                               description="where the server reads the sensor itself: an OPC UA endpoint and node "
                                           "id, `opc.tcp://host:4840#ns=2;s=TK103.LT`, the endpoint registered (in "
                                           "`endpoints`) for the sensor's enterprise; one node feeds one sensor; "
                                           "omit for sensors that arrive by HTTP, MQTT or the edge gateway")

    @field_validator("suppress_when")
    @classmethod
    def _suppress_parses(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_rule(v)
            except RuleError as e:
                raise ValueError(str(e)) from None
        return v

    @model_validator(mode="after")
    def _limits_ordered(self) -> SensorDoc:
        values = [self.range_low, self.range_high, self.ll, self.l, self.h, self.hh, self.deadband]
        if any(v is not None and not math.isfinite(v) for v in values):
            raise ValueError("numbers must be finite")
        if self.roc_limit is not None and self.roc_deadband >= self.roc_limit:
            raise ValueError(f"roc_deadband {self.roc_deadband} must be below roc_limit {self.roc_limit}")
        if self.trend_horizon_s is not None and self.h is None and self.l is None:
            raise ValueError("trend_horizon_s needs an H or L limit to predict the crossing of")
        if self.range_low >= self.range_high:
            raise ValueError(f"range_low {self.range_low} must be below range_high {self.range_high}")
        named = [(n, getattr(self, n)) for n in ("ll", "l", "h", "hh") if getattr(self, n) is not None]
        for (n1, v1), (n2, v2) in zip(named, named[1:], strict=False):
            if v1 > v2:
                raise ValueError(f"limits out of order: {n1}={v1} is above {n2}={v2}")
        for n, v in named:
            if not self.range_low <= v <= self.range_high:
                raise ValueError(f"limit {n}={v} lies outside the range {self.range_low}..{self.range_high}")
        return self


class UnitDoc(_Item):
    """A unit watched as a whole by a multivariate detector: a model from `hazwatch model fit`,
    whose columns are the unit's sensor tags."""

    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    org: str = Field(description="code of the enterprise the unit belongs to")
    hazard_source: str | None = None
    model: dict = Field(description="the fitted model (the JSON that `hazwatch model fit` writes); in a YAML "
                                    "catalog file a path to that file, relative to the catalog, may stand here")
    priority: PriorityName = "medium"
    clear_rows: int = Field(5, ge=1, le=10_000, description="rows in a row below the threshold before the "
                                                            "unit's alarm clears")

    @field_validator("model")
    @classmethod
    def _model(cls, v: dict) -> dict:
        if v.get("format") != "hazwatch-model/1":
            raise ValueError("model must be a Hazwatch model (format hazwatch-model/1, from `hazwatch model fit`)")
        cols = v.get("columns")
        if not isinstance(cols, list) or not cols or not all(isinstance(c, str) for c in cols):
            raise ValueError("model columns must be a list of sensor tags")
        if not isinstance(v.get("detector"), dict) or not isinstance(v.get("threshold"), int | float):
            raise ValueError("model lacks its detector or threshold")
        return v


class RuleDoc(_Item):
    """A compound rule: a condition over several sensors, in Hazwatch's rule language, e.g.
    `2 of (GT-101 > 25, GT-102 > 25, GT-103 > 25)` or `TT-101 > 180 and running(P-101) for 30s`."""

    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    org: str = Field(description="code of the org the rule belongs to; its sensors lie within that org")
    when: str = Field(min_length=1, max_length=2000,
                      description="the condition, in the rule language of docs/early-warning.md")
    priority: PriorityName = "high"

    @field_validator("when")
    @classmethod
    def _parses(cls, v: str) -> str:
        try:
            parse_rule(v)
        except RuleError as e:
            raise ValueError(str(e)) from None
        return v


HazardType = Literal["toxic_release", "fire", "explosion", "overfill", "runaway_reaction", "other"]
TierRole = Literal["operator", "supervisor", "enterprise_admin", "park_admin", "regulator"]
AlarmCondition = Literal["LL", "L", "H", "HH", "COMM", "STALE", "FLAT", "RANGE", "ANOM", "ROC", "TREND", "RULE"]


class TierDoc(_Item):
    """One rung of the escalation ladder: who is called, and how long they have to acknowledge."""

    name: str = Field(min_length=1, max_length=100, description="e.g. duty operator, shift supervisor")
    role: TierRole = Field(description="users with this role whose scope holds the incident's enterprise are "
                                       "notified")
    minutes: float = Field(gt=0, le=10080, description="unacknowledged after this long, the next tier is called")


class InterlockDoc(_Item):
    """A write a plan step asks for; nothing is written until an authorized user confirms it."""

    target: str = Field(max_length=300, pattern=r"^(opc\.tcp://[^#\s]+#\S+|modbus://[^/\s]+/\d+/\d+|mqtt://\S+)$",
                        description="`opc.tcp://host:4840#ns=2;s=XV-101` (a node), `modbus://host:502/UNIT/REGISTER` "
                                    "(a holding register) or `mqtt://TOPIC` (a command topic on the server's broker), "
                                    "at an endpoint registered (in `endpoints`) for an enterprise of the plan's org; "
                                    "it is written only for an incident of that enterprise")
    value: float = Field(description="the value to write (a register takes an integer 0..65535)")
    second_person: bool = Field(False, description="a second, different user must confirm as well")

    @model_validator(mode="after")
    def _register_value(self) -> InterlockDoc:
        if self.target.startswith("modbus://") and not (self.value.is_integer() and 0 <= self.value <= 65535):
            raise ValueError(f"a Modbus register takes an integer 0..65535, not {self.value}")
        return self


class StepDoc(_Item):
    title: str = Field(min_length=1, max_length=300)
    role: TierRole = Field("operator", description="who carries the task out")
    due_min: float = Field(gt=0, le=10080, description="minutes after the incident opens; an overdue task "
                                                       "climbs the escalation ladder")
    interlock: InterlockDoc | None = None


class PlanDoc(_Item):
    """An emergency plan as data (three layers): the general plan of an org, specific plans by hazard
    type, and on-site procedures for named locations. An incident takes the general plan, the
    specific plans of its hazard type (a specific plan that names locations: only there) and the
    on-site procedures of its location; their steps become its tasks, and the first plan (specific
    before general) with tiers sets its escalation ladder."""

    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    layer: Literal["general", "specific", "onsite"]
    org: str = Field(description="code of the org whose incidents the plan covers (an enterprise, or a park or "
                                 "region for all enterprises below it)")
    hazard_types: list[HazardType] = Field([], description="specific plans: the hazard types they answer")
    locations: list[str] = Field([], description="on-site procedures: hazard source or device codes; specific "
                                                 "plans: where they apply (empty: anywhere in the org)")
    tiers: list[TierDoc] = Field([], description="the escalation ladder, lowest tier first")
    steps: list[StepDoc] = []

    @model_validator(mode="after")
    def _layer(self) -> PlanDoc:
        if self.layer == "specific" and not self.hazard_types:
            raise ValueError("a specific plan names the hazard_types it answers")
        if self.layer == "onsite" and not self.locations:
            raise ValueError("an on-site procedure names its locations (hazard source or device codes)")
        if self.layer == "general" and (self.hazard_types or self.locations):
            raise ValueError("a general plan covers every incident of its org: no hazard_types or locations")
        return self


class TriggerDoc(_Item):
    """When an alarm opens an incident. An alarm that matches joins the open incident of its hazard
    source (or of its org, where it has none) instead of opening another."""

    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    org: str = Field(description="code of the org whose alarms the trigger watches (and every org below it)")
    conditions: list[AlarmCondition] = Field(["HH"], min_length=1)
    min_priority: PriorityName = "low"
    major_hazard_only: bool = Field(False, description="only alarms of sensors and units on a hazard source (the "
                                                       "catalog's registered major hazard installations)")
    sensor_kinds: list[SensorKind] = Field([], description="only alarms of sensors of these kinds (empty: any)")
    rule: str | None = Field(None, description="only this compound rule's alarm")
    unit: str | None = Field(None, description="only this unit's detector alarm")
    locations: list[str] = Field([], description="only alarms at these hazard sources or devices (empty: anywhere "
                                                 "in the org); a rule's alarm is where all its sensors are")
    hold_s: float = Field(0.0, ge=0, le=86400, description="the alarm must have stayed active this long")
    hazard_type: HazardType | None = Field(None, description="the incident's hazard type; by default gas "
                                           "detectors mean toxic_release, levels overfill, temperatures and "
                                           "pressures runaway_reaction, anything else other")


class CatalogDoc(_Item):
    """A catalog document; every list is optional so a file may carry only part of a catalog."""

    version: Literal[1] = 1
    orgs: list[OrgDoc] = []
    sites: list[SiteDoc] = []
    hazard_sources: list[HazardSourceDoc] = []
    devices: list[DeviceDoc] = []
    endpoints: list[EndpointDoc] = []
    sensors: list[SensorDoc] = []
    units: list[UnitDoc] = []
    rules: list[RuleDoc] = []
    plans: list[PlanDoc] = []
    incident_triggers: list[TriggerDoc] = []


# Columns of the sensor CSV: the fields provincial reporting systems carry, plus alarm settings.
CSV_COLUMNS = [
    "tag", "name", "kind", "unit", "range_low", "range_high", "ll", "l", "h", "hh",
    "device", "hazard_source", "longitude", "latitude", "in_use",
    "deadband", "on_delay_s", "off_delay_s", "priority_ll", "priority_l", "priority_h", "priority_hh",
    "interval_s", "stale_intervals", "flatline_s", "source",
    "roc_limit", "roc_window_s", "roc_deadband", "trend_horizon_s", "trend_window_s", "suppress_when",
]


def json_schema() -> dict:
    schema = CatalogDoc.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://hazwatch.dev/schema/catalog.schema.json"
    schema["title"] = "Hazwatch catalog document"
    return schema
