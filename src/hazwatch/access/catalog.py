"""Orgs, the catalog and application packs, every change audited. A part of `Access` (a mixin)."""

from __future__ import annotations

import secrets

from hazwatch import packs
from hazwatch.access.base import _OBJECT, AccessBase
from hazwatch.catalog.errors import CatalogError
from hazwatch.catalog.models import Device
from hazwatch.catalog.repository import ApplySummary
from hazwatch.catalog.schema import CatalogDoc, OrgDoc
from hazwatch.domain.errors import Conflict, Invalid, NotFound
from hazwatch.packs import Pack


class CatalogAccess(AccessBase):
    # -- orgs and catalog ---------------------------------------------------------------------------------
    def orgs(self) -> list[dict]:
        tree = self.services.orgs.current()
        return [{"id": n.id, "code": n.code, "name": n.name, "kind": n.kind, "parent": n.parent}
                for n in sorted(tree.nodes.values(), key=lambda n: n.id) if self.scope.allows(n.id)]

    def org(self, org_id: int) -> dict:
        for o in self.orgs():
            if o["id"] == org_id:
                return o
        raise NotFound(f"org {org_id} not found")

    def create_org(self, name: str, kind: str, parent: int | None, code: str | None) -> dict:
        tree = self.services.orgs.current()
        if parent is None:
            if not self.scope.everything:
                raise Invalid("`parent` is required: new orgs go below an org in your scope")
            parent_code = None
        else:
            parent_code = self.org(parent)["code"]
        code = code or f"{kind[:1].upper()}-{secrets.token_hex(4).upper()}"
        if tree.by_code(code) is not None:
            raise Conflict(f"org code {code!r} is taken")
        try:
            self.apply_catalog(CatalogDoc(orgs=[OrgDoc(code=code, name=name, kind=kind, parent=parent_code)]), "org")
        except CatalogError as e:  # name the request's fields, not the catalog document's
            raise Invalid("; ".join(p.split(": ", 1)[-1].replace("orgs[0].", "") for p in e.problems)) from None
        node = self.services.orgs.current().by_code(code)
        assert node is not None
        self.__dict__.pop("scope", None)  # the new org widens this request's scope
        return self.org(node.id)

    def export_catalog(self) -> CatalogDoc:
        return self.services.catalog.export(self.scope.org_ids)

    def apply_catalog(self, doc: CatalogDoc, source: str = "catalog") -> ApplySummary:
        summary = self.services.catalog.apply(doc, source, self.scope.org_ids, self._catalog_audit())
        self.services.catalog_changed()
        return summary

    def _catalog_audit(self):
        """Every created or changed catalog item into the audit log, as this caller's."""
        actor, record = self.actor, self.services.audit.record

        def on_change(session, section: str, key: str, before: dict | None, after: dict) -> None:
            if section == "orgs":
                org_id = after["id"]
            elif section == "sensors":
                org_id = session.get(Device, after["device_id"]).org_id
            else:
                org_id = after["org_id"]
            record(session.connection(), actor, "catalog.update" if before else "catalog.create",
                   _OBJECT[section], key, org_id, before=before, after=after)

        return on_change

    # -- application packs ----------------------------------------------------------------------------------
    def apply_pack(self, name: str, org: str, params: dict, dry_run: bool) -> tuple[Pack, str, ApplySummary]:
        pack = packs.shipped_pack(name)
        code = packs.enterprise_code(self.services.catalog, org, self.scope.org_ids)
        _, summary = packs.apply(self.services.catalog, pack, code, params, dry_run, self._catalog_audit(),
                                 self.scope.org_ids, self.services.risk_points)
        if not dry_run:
            self.services.catalog_changed()
        return pack, code, summary

    def upgrade_pack(self, name: str, org: str, params: dict | None, dry_run: bool) -> tuple[str, packs.Upgrade]:
        pack = packs.shipped_pack(name)
        code = packs.enterprise_code(self.services.catalog, org, self.scope.org_ids)
        result = packs.upgrade(self.services.catalog, pack, code, params, dry_run, self._catalog_audit(),
                               self.scope.org_ids, self.services.risk_points)
        if not dry_run:
            self.services.catalog_changed()
        return code, result

    def fit_pack(self, name: str, org: str, since: int | None, until: int | None, detectors: list[str],
                 dry_run: bool) -> tuple[str, list, ApplySummary]:
        pack = packs.shipped_pack(name)
        code = packs.enterprise_code(self.services.catalog, org, self.scope.org_ids)
        fitted, summary = packs.fit(self.services.catalog, self.services.store, pack, code, since, until,
                                    detectors or None, dry_run, self._catalog_audit(), self.scope.org_ids)
        if not dry_run:
            self.services.catalog_changed()
        return code, fitted, summary

    def pack_installs(self, org: str) -> tuple[str, list[dict]]:
        code = packs.enterprise_code(self.services.catalog, org, self.scope.org_ids)
        return code, packs.installed(self.services.catalog, code)
