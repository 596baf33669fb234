"""Orgs, the catalog and application packs, every change audited; users, keys and the audit log
(`auth.accounts.Accounts`, bound to the caller). A part of `Access` (a mixin)."""

from __future__ import annotations

from functools import cached_property

from hazwatch.access.base import AccessBase
from hazwatch.auth.accounts import Accounts
from hazwatch.auth.audit import CatalogAudit
from hazwatch.catalog.repository import ApplySummary
from hazwatch.catalog.schema import CatalogDoc
from hazwatch.domain.errors import Invalid, NotFound
from hazwatch.packs.service import CallerPacks


class CatalogAccess(AccessBase):
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
        if parent is None and not self.scope.everything:
            raise Invalid("`parent` is required: new orgs go below an org in your scope")
        code = self.services.catalog.create_org(name, kind, self.org(parent)["code"] if parent is not None else None,
                                                code, self.scope.org_ids, self._catalog_audit())
        self.services.catalog_changed()
        self.__dict__.pop("scope", None)  # the new org widens this request's scope
        return self.org(self._org_by_code(code))

    def export_catalog(self) -> CatalogDoc:
        return self.services.catalog.export(self.scope.org_ids)

    def apply_catalog(self, doc: CatalogDoc, source: str = "catalog") -> ApplySummary:
        summary = self.services.catalog.apply(doc, source, self.scope.org_ids, self._catalog_audit())
        self.services.catalog_changed()
        return summary

    @cached_property
    def accounts(self) -> Accounts:
        """Users, device secrets and the audit log of the caller's scope; its own tokens and keys."""
        s = self.services
        return Accounts(s.users, s.device_credentials, s.auth, s.audit, self.principal, self.scope, self.remote)

    def _catalog_audit(self) -> CatalogAudit:
        return CatalogAudit(self.actor)

    @cached_property
    def packs(self) -> CallerPacks:
        """The shipped packs on the enterprises of the caller's scope, changes audited as the caller's."""
        return self.services.packs.bound(self.scope.org_ids, self._catalog_audit(), self.services.catalog_changed)
