"""`hazwatch pack fit`: a pack's multivariate detectors fitted on the enterprise's own stored
history, each becoming a catalog unit the live engine watches.

A pack cannot ship a fitted model: what is normal for one casting well (its flow, its pressure at
that flow) is not normal for the next. It ships the definition, and the fit reads the window the
user names as normal running from the telemetry store, builds rows exactly as the live engine will
(`SampleHold`), and sets the threshold for the detector's false-alarm rate on held-out rows."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from hazwatch import offload
from hazwatch.catalog.errors import CatalogError
from hazwatch.catalog.models import Device, Org, Sensor, Unit
from hazwatch.catalog.repository import ApplySummary, CatalogRepository
from hazwatch.catalog.schema import CatalogDoc, UnitDoc
from hazwatch.detect.multivariate import FitError, fit_model
from hazwatch.detect.multivariate.live import SampleHold
from hazwatch.domain.batch import ReadingBatch
from hazwatch.domain.clock import iso
from hazwatch.packs.library import Pack
from hazwatch.packs.manifest import DetectorDoc, PackError
from hazwatch.packs.models import PackInstall
from hazwatch.store.base import TelemetryStore

MAX_READINGS = 2_000_000  # per sensor and fit: a day at 20 Hz; a longer history is read in a shorter window


@dataclass
class Fitted:
    code: str
    name: str
    columns: list[str]
    method: str
    rows: int
    threshold: float
    since: int  # µs, the window fitted on
    until: int


def fit(repo: CatalogRepository, store: TelemetryStore, pack: Pack, org: str, since: int | None = None,
        until: int | None = None, only: list[str] | None = None, dry_run: bool = False, on_change=None,
        allowed: frozenset[int] | None = None) -> tuple[list[Fitted], ApplySummary]:
    """Fit the detectors of `pack`, installed on enterprise `org`, on its readings from `since` to
    `until` (µs; default: each detector's `fit_hours` back from now) and store them as units in one
    catalog change. Every detector fits or none is stored: a refusal names each that failed and why."""
    name = pack.manifest.name
    with Session(repo.engine) as s:
        install = s.scalar(select(PackInstall).join(Org, Org.id == PackInstall.org_id)
                           .where(Org.code == org, PackInstall.pack == name))
        if install is None:
            raise PackError([f"{name} is not installed on {org}: apply it first"])
        ids = dict(s.execute(select(Sensor.tag, Sensor.id).join(Device, Device.id == Sensor.device_id)
                             .join(Org, Org.id == Device.org_id).where(Org.code == org)).all())
        elsewhere = dict(s.execute(select(Unit.code, Org.code).join(Org, Org.id == Unit.org_id)
                                   .where(Org.code != org)).all())
    # the definitions as installed (an upgrade records its own), not as a newer shipped version says
    detectors = [DetectorDoc.model_validate(d) for d in install.rendered.get("detectors", [])]
    if not detectors:
        raise PackError([f"{name} declares no detectors"])
    if only:
        unknown = [c for c in only if c not in {d.code for d in detectors}]
        if unknown:
            raise PackError([f"detector {c!r}: {name} on {org} has {', '.join(d.code for d in detectors)}"
                             for c in unknown])
        detectors = [d for d in detectors if d.code in only]
    end = until if until is not None else time.time_ns() // 1000
    if since is not None and since >= end:
        raise PackError([f"the window from {iso(since, 'seconds')} to {iso(end, 'seconds')} is empty: since must "
                         "come before until"])
    problems: list[str] = []
    fitted: list[Fitted] = []
    units: list[UnitDoc] = []
    for d in detectors:
        start = since if since is not None else end - int(d.fit_hours * 3600e6)
        where = f"detector {d.code} ({iso(start, 'seconds')} to {iso(end, 'seconds')})"
        if d.code in elsewhere:
            problems.append(f"detector {d.code}: the code is a unit of another enterprise")
            continue
        missing = [t for t in d.columns if t not in ids]
        if missing:
            problems.append(f"detector {d.code}: {', '.join(missing)} not sensors of {org} (deleted since the "
                            "install?)")
            continue
        try:
            x = _rows(store, d, [ids[t] for t in d.columns], start, end)
            need = int(np.ceil(1 / d.target_far))
            if len(x) < need:  # fewer held-out rows than one false alarm's worth: the threshold would be a guess
                raise FitError(f"{len(x)} rows of normal running; a false-alarm rate of {d.target_far:g} needs "
                               f"at least {need:,} to set the threshold on (a longer window)")
            # seconds of pure Python per detector: in the render process, off the server's interpreter lock
            model = offload.run(fitted_model, x, d.columns, d.method, d.target_far)
        except FitError as e:
            problems.append(f"{where}: {e}")
            continue
        fitted.append(Fitted(d.code, d.name, d.columns, d.method, len(x), model["threshold"], start, end))
        units.append(UnitDoc(code=d.code, name=d.name, org=org, hazard_source=d.hazard_source,
                             model=model, priority=d.priority, clear_rows=d.clear_rows))
    if problems:
        raise PackError(problems)
    try:
        summary = repo.apply(CatalogDoc(units=units), f"pack {name} {pack.manifest.version} fit", allowed,
                             on_change=on_change, dry_run=dry_run)
    except CatalogError as e:
        raise PackError(e.problems) from None
    return fitted, summary


def fitted_model(x: np.ndarray, columns: list[str], method: str, target_far: float) -> dict:
    """A detector fitted on one run of rows, as the catalog stores it (run in the render process)."""
    return fit_model([x], columns, method, target_far).to_dict()


def _rows(store: TelemetryStore, d: DetectorDoc, sensors: list[int], start: int, end: int) -> np.ndarray:
    """The unit's rows over the window, from its good readings, as the live engine builds them."""
    cols: dict[str, list[np.ndarray]] = {"sensor": [], "ts": [], "value": [], "quality": []}
    for tag, sid in zip(d.columns, sensors, strict=True):
        f = store.series(sid, start, end, None, limit=MAX_READINGS + 1)
        if len(f) > MAX_READINGS:
            raise FitError(f"{tag} has more than {MAX_READINGS:,} readings in the window; fit on a shorter one")
        if not len(f):
            raise FitError(f"{tag} has no readings in the window; fit once it has a stretch of normal running")
        cols["sensor"].append(np.full(len(f), sid))
        for k in ("ts", "value", "quality"):
            cols[k].append(f.columns[k])
    batch = ReadingBatch.of(*(np.concatenate(cols[k]) for k in ("sensor", "ts", "value", "quality")))
    ids = np.asarray(sensors, np.int64)
    _, x = SampleHold(ids).rows(batch, int(ids.max()) + 1)
    return x
