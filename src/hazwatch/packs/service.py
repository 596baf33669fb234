"""The shipped packs as a caller uses them over the API: by name only (never a path), on an
enterprise named by id or code inside the caller's scope (`allowed`; outside it the org reads as
unknown), every catalog change through the caller's audit hook, and the catalog reloaded after a
change that was not a dry run. The scoping facade binds the caller (`ShippedPacks.bound`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hazwatch.catalog.repository import ApplySummary, CatalogRepository
from hazwatch.packs.fit import Fitted, fit
from hazwatch.packs.library import Pack, Upgrade, apply, enterprise_code, installed, shipped_pack, upgrade
from hazwatch.risk.points import RiskPoints
from hazwatch.store import TelemetryStore


@dataclass(frozen=True)
class ShippedPacks:
    catalog: CatalogRepository
    store: TelemetryStore
    risk: RiskPoints

    def bound(self, allowed: frozenset[int] | None, audit, changed: Callable[[], None]) -> CallerPacks:
        return CallerPacks(self, allowed, audit, changed)


@dataclass(frozen=True)
class CallerPacks:
    """The packs as one caller may use them: its scope, its audit hook, the reload after a change."""

    packs: ShippedPacks
    allowed: frozenset[int] | None
    audit: Callable
    changed: Callable[[], None]

    def _target(self, name: str, org: str) -> tuple[Pack, str]:
        return shipped_pack(name), enterprise_code(self.packs.catalog, org, self.allowed)

    def _done(self, dry_run: bool) -> None:
        if not dry_run:
            self.changed()

    def apply(self, name: str, org: str, params: dict, dry_run: bool) -> tuple[Pack, str, ApplySummary]:
        pack, code = self._target(name, org)
        _, summary = apply(self.packs.catalog, pack, code, params, dry_run, self.audit, self.allowed, self.packs.risk)
        self._done(dry_run)
        return pack, code, summary

    def upgrade(self, name: str, org: str, params: dict | None, dry_run: bool) -> tuple[str, Upgrade]:
        pack, code = self._target(name, org)
        result = upgrade(self.packs.catalog, pack, code, params, dry_run, self.audit, self.allowed, self.packs.risk)
        self._done(dry_run)
        return code, result

    def fit(self, name: str, org: str, since: int | None, until: int | None, detectors: list[str],
            dry_run: bool) -> tuple[str, list[Fitted], ApplySummary]:
        pack, code = self._target(name, org)
        fitted, summary = fit(self.packs.catalog, self.packs.store, pack, code, since, until, detectors or None,
                              dry_run, self.audit, self.allowed)
        self._done(dry_run)
        return code, fitted, summary

    def installed(self, org: str) -> tuple[str, list[dict]]:
        code = enterprise_code(self.packs.catalog, org, self.allowed)
        return code, installed(self.packs.catalog, code)
