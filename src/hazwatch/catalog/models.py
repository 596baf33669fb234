"""Catalog tables: the org tree and everything that hangs from it."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hazwatch.db import Base


class Org(Base):
    __tablename__ = "orgs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), nullable=True)


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)


class HazardSource(Base):
    __tablename__ = "hazard_sources"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(40))
    substances: Mapped[list] = mapped_column(JSON, default=list)
    exposed_people: Mapped[int] = mapped_column(Integer, default=0)


class Device(Base):
    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), nullable=True)
    hazard_source_id: Mapped[int | None] = mapped_column(ForeignKey("hazard_sources.id"), nullable=True)


class Sensor(Base):
    __tablename__ = "sensors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(20))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    hazard_source_id: Mapped[int | None] = mapped_column(ForeignKey("hazard_sources.id"), nullable=True)
    range_low: Mapped[float] = mapped_column(Float)
    range_high: Mapped[float] = mapped_column(Float)
    ll: Mapped[float | None] = mapped_column(Float, nullable=True)
    l: Mapped[float | None] = mapped_column(Float, nullable=True)  # noqa: E741 - the standard's name
    h: Mapped[float | None] = mapped_column(Float, nullable=True)
    hh: Mapped[float | None] = mapped_column(Float, nullable=True)
    priority_ll: Mapped[str] = mapped_column(String(10), default="high")
    priority_l: Mapped[str] = mapped_column(String(10), default="medium")
    priority_h: Mapped[str] = mapped_column(String(10), default="medium")
    priority_hh: Mapped[str] = mapped_column(String(10), default="high")
    deadband: Mapped[float] = mapped_column(Float, default=0.0)
    on_delay_s: Mapped[float] = mapped_column(Float, default=0.0)
    off_delay_s: Mapped[float] = mapped_column(Float, default=0.0)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    in_use: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    stale_intervals: Mapped[int] = mapped_column(Integer, default=3)
    flatline_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    roc_limit: Mapped[float | None] = mapped_column(Float, nullable=True)
    roc_window_s: Mapped[float] = mapped_column(Float, default=60.0)
    roc_deadband: Mapped[float] = mapped_column(Float, default=0.0)
    trend_horizon_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    trend_window_s: Mapped[float] = mapped_column(Float, default=600.0)
    suppress_when: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    source: Mapped[str | None] = mapped_column(String(300), nullable=True)


class Endpoint(Base):
    """A registered field controller (OPC UA server, Modbus TCP server, MQTT command-topic prefix);
    `address` is kept in its normal form (catalog/endpoints.py), unique in the installation."""

    __tablename__ = "endpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    address: Mapped[str] = mapped_column(String(300), unique=True)


class CatalogMeta(Base):
    """One row: the catalog's revision, bumped by every import so running servers reload."""

    __tablename__ = "catalog_meta"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)


class Unit(Base):
    """A group of sensors watched by one multivariate detector (the model is the fitted JSON)."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    hazard_source_id: Mapped[int | None] = mapped_column(ForeignKey("hazard_sources.id"), nullable=True)
    model: Mapped[dict] = mapped_column(JSON)
    priority: Mapped[str] = mapped_column(String(10), default="medium")
    clear_rows: Mapped[int] = mapped_column(Integer, default=5)


class Rule(Base):
    """A compound rule over several sensors (its text is parsed at import and on load)."""

    __tablename__ = "rules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    when: Mapped[str] = mapped_column(String(2000))
    priority: Mapped[str] = mapped_column(String(10), default="high")


class Plan(Base):
    """An emergency plan (general, specific or on-site); `doc` is the validated PlanDoc."""

    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    layer: Mapped[str] = mapped_column(String(10))
    doc: Mapped[dict] = mapped_column(JSON)


class IncidentTrigger(Base):
    """When alarms open incidents; `doc` is the validated TriggerDoc."""

    __tablename__ = "incident_triggers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    doc: Mapped[dict] = mapped_column(JSON)
