"""Periodic reports: which period a name means, what goes into a report of an org (as that org's
own scope sees it: a `feed.ScopedView` handed in), where the files go, and the schedule that writes
each finished period's reports by itself.

Periods are local days, ISO weeks and months in `HAZWATCH_REPORT_TIMEZONE`: `2026-11-24`,
`2026-W48`, `2026-11`."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select, update

from hazwatch import offload
from hazwatch.domain.batch import US
from hazwatch.domain.clock import iso
from hazwatch.domain.errors import Invalid, NotFound
from hazwatch.risk import report as render
from hazwatch.risk.feed import ScopedView
from hazwatch.risk.models import Report
from hazwatch.risk.views import without_org

if TYPE_CHECKING:
    from hazwatch.auth.scope import OrgTrees

log = logging.getLogger(__name__)
_R = Report.__table__
KINDS = ("daily", "weekly", "monthly")


@dataclass(frozen=True)
class Period:
    kind: str
    name: str
    start: datetime  # local, inclusive
    end: datetime  # local, exclusive

    @property
    def bucket(self) -> str:
        return "hour" if self.kind == "daily" else "day"


def parse_period(text: str, tz: str) -> Period:
    zone = ZoneInfo(tz)
    text = text.strip()
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text):
        d = date(*map(int, m.groups()))
        start = datetime(d.year, d.month, d.day, tzinfo=zone)
        return Period("daily", text, start, start + timedelta(days=1))
    if m := re.fullmatch(r"(\d{4})-W(\d{2})", text):
        d = date.fromisocalendar(int(m[1]), int(m[2]), 1)
        start = datetime(d.year, d.month, d.day, tzinfo=zone)
        return Period("weekly", text, start, start + timedelta(days=7))
    if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
        y, mo = int(m[1]), int(m[2])
        if not 1 <= mo <= 12:
            raise Invalid(f"period {text!r}: month {mo} does not exist")
        start = datetime(y, mo, 1, tzinfo=zone)
        return Period("monthly", text, start, datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=zone))
    raise Invalid(f"period {text!r} is not a day (2026-11-24), an ISO week (2026-W48) or a month (2026-11)")


def last_finished(kind: str, now_us: int, tz: str) -> Period:
    """The most recent period of this kind that has ended."""
    today = datetime.fromtimestamp(now_us / US, ZoneInfo(tz)).date()
    if kind == "daily":
        return parse_period((today - timedelta(days=1)).isoformat(), tz)
    if kind == "weekly":
        y, w, _ = (today - timedelta(days=7)).isocalendar()
        return parse_period(f"{y}-W{w:02d}", tz)
    first = today.replace(day=1) - timedelta(days=1)
    return parse_period(f"{first.year}-{first.month:02d}", tz)


@dataclass(frozen=True)
class Schedule:
    """Where and when reports are written (from the HAZWATCH_REPORT_* settings)."""

    dir: Path  # the files, {org}-{period}-{lang}.html|pdf
    timezone: str = "Asia/Shanghai"
    kinds: list[str] = field(default_factory=list)  # written by themselves: daily, weekly, monthly
    scope_kinds: list[str] = field(default_factory=lambda: ["enterprise"])
    language: str = "zh"


class Reports:
    def __init__(self, engine: Engine, orgs: OrgTrees, view: Callable[[int], ScopedView], now_us: Callable[[], int],
                 schedule: Schedule, installed_at: Callable[[], int | None]) -> None:
        """`view(org_id)`: that org's scope, read as its administrator would; `installed_at()`:
        when the installation began (periods that ended before are owed no report)."""
        self.engine, self.orgs, self.view, self.now_us = engine, orgs, view, now_us
        self.schedule, self.installed_at = schedule, installed_at
        self.dir, self.tz = schedule.dir, schedule.timezone
        self._done: set[tuple[int, str, str]] = set()
        self._installed: int | None = None

    def gather(self, org_id: int, period: Period) -> dict:
        """The report's content as the org's own scope sees it."""
        node = self.orgs.current().nodes[org_id]
        access = self.view(org_id)
        start, end = int(period.start.timestamp() * US), int(period.end.timestamp() * US)
        bucket = 3600 * US if period.bucket == "hour" else 86400 * US
        kpis = access.kpis(None, start, end, bucket_us=bucket)
        fmt = "%H:00" if period.bucket == "hour" else "%m-%d"
        zone = ZoneInfo(self.tz)
        rate = [(datetime.fromtimestamp(ts / US, zone).strftime(fmt), n) for ts, n in kpis["alarms"].pop("series")]
        return {"scope": node.code, "scope_name": node.name, "period": period.name, "kind": period.kind,
                "bucket": period.bucket, "start": period.start.isoformat(timespec="minutes"),
                "end": period.end.isoformat(timespec="minutes"),
                "generated": datetime.now(zone).isoformat(timespec="seconds"), "kpis": kpis, "rate": rate,
                "overview": access.risk_overview(), "hidden": access.hidden_dangers(None),
                "packs": access.pack_report(node.code, start, end) if node.kind == "enterprise" else []}

    def generate(self, org_id: int, period_text: str, lang: str, actor: str) -> dict:
        period = parse_period(period_text, self.tz)
        if lang not in render.TEXT:
            raise Invalid(f"language must be one of {', '.join(render.TEXT)}, not {lang!r}")
        node = self.orgs.current().nodes.get(org_id)
        if node is None:
            raise NotFound(f"org {org_id} not found")
        name = f"{node.code}-{period.name}-{lang}"
        # rendered in the render process: a report's charts must not hold the interpreter lock the writer needs
        offload.run(render.write, self.gather(org_id, period), lang, self.dir / f"{name}.html",
                    self.dir / f"{name}.pdf")
        now = self.now_us()
        row = {"org_id": org_id, "kind": period.kind, "period": period.name, "lang": lang,
               "start": int(period.start.timestamp() * US), "end": int(period.end.timestamp() * US),
               "created_at": now, "created_by": actor, "name": name}
        with self.engine.begin() as conn:
            old = conn.scalar(select(_R.c.id).where(_R.c.org_id == org_id, _R.c.period == period.name,
                                                    _R.c.lang == lang))
            if old is None:
                rid = conn.execute(insert(_R).values(**row).returning(_R.c.id)).scalar_one()
            else:
                conn.execute(update(_R).where(_R.c.id == old).values(**row))
                rid = old
        return self.get(rid)

    def list(self, org_ids: frozenset[int] | None) -> list[dict]:
        q = select(_R).order_by(_R.c.id.desc())
        if org_ids is not None:
            q = q.where(_R.c.org_id.in_(org_ids))
        with self.engine.connect() as conn:
            return [self._public(r) for r in conn.execute(q.limit(1000)).mappings()]

    def get(self, report_id: int) -> dict:
        with self.engine.connect() as conn:
            r = conn.execute(select(_R).where(_R.c.id == report_id)).mappings().first()
        if r is None:
            raise NotFound(f"report {report_id} not found")
        return self._public(r)

    def path(self, report: dict, kind: str) -> Path:
        return self.dir / f"{report['name']}.{kind}"

    def file(self, report: dict, kind: str) -> Path:
        """The report's file, or NotFound when it is gone (a data directory cleaned by hand)."""
        path = self.path(report, kind)
        if not path.exists():
            raise NotFound(f"report {report['id']}'s {kind} file is gone; request it again")
        return path

    def _public(self, r) -> dict:
        return {"id": r["id"], "org_id": r["org_id"], "scope": self.orgs.code_of(r["org_id"]), "kind": r["kind"],
                "period": r["period"], "lang": r["lang"], "start": iso(r["start"]), "end": iso(r["end"]),
                "created_at": iso(r["created_at"]), "created_by": r["created_by"], "name": r["name"]}

    def bound(self, allowed: frozenset[int] | None, actor: str) -> CallerReports:
        return CallerReports(self, allowed, actor)

    # -- the schedule ----------------------------------------------------------------------------------------
    def tick(self) -> int:
        """Write the report of one finished period the schedule names that is not written yet (one
        per tick: a restarted server catches up spread over its first seconds, not in one burst).
        Periods that ended before the installation existed are owed nothing."""
        s = self.schedule
        if not s.kinds:
            return 0
        now = self.now_us()
        installed = self._installed_at(now)
        kinds = set(s.scope_kinds)
        orgs = [n for n in self.orgs.current().nodes.values() if n.kind in kinds]
        for kind in s.kinds:
            period = last_finished(kind, now, self.tz)
            owed = period.end.timestamp() * US > installed
            for org in orgs:
                key = (org.id, period.name, s.language)
                if key in self._done:
                    continue
                self._done.add(key)
                if not owed:
                    continue
                with self.engine.connect() as conn:
                    exists = conn.scalar(select(_R.c.id).where(_R.c.org_id == org.id, _R.c.period == period.name,
                                                               _R.c.lang == s.language))
                if exists is None:
                    try:
                        self.generate(org.id, period.name, s.language, "schedule")
                        return 1
                    except Exception:  # tried once per run: a missing font must not fill the log every second
                        log.exception("scheduled report %s %s failed", org.code, period.name)
        return 0

    def _installed_at(self, now: int) -> int:
        """When this installation began: its first user (the admin made at first start)."""
        if self._installed is None:
            self._installed = self.installed_at()
        return now if self._installed is None else self._installed


@dataclass(frozen=True)
class CallerReports:
    """The reports of the orgs in a caller's scope (`allowed`; None: all): another org's report
    reads as one that does not exist; requests are made in the caller's name."""

    reports: Reports
    allowed: frozenset[int] | None
    actor: str

    def list(self) -> list[dict]:
        return [without_org(r) for r in self.reports.list(self.allowed)]

    def request(self, org_id: int, period: str, lang: str) -> dict:
        return without_org(self.reports.generate(org_id, period, lang, self.actor))

    def file(self, report_id: int, kind: str) -> Path:
        r = self.reports.get(report_id)
        if self.allowed is not None and r["org_id"] not in self.allowed:
            raise NotFound(f"report {report_id} not found")
        return self.reports.file(r, kind)
