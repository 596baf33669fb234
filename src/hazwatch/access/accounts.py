"""Users, keys, devices and the audit log; the caller's own credentials; this process's health
(no tenant's data). A part of `Access` (a mixin)."""

from __future__ import annotations

from hazwatch import metrics
from hazwatch.access.base import AccessBase


class AccountAccess(AccessBase):
    # -- users, keys, devices, audit ------------------------------------------------------------------------
    def users(self) -> list[dict]:
        return self.services.users.list(self.scope)

    def user(self, user_id: int) -> dict:
        return self.services.users.get(self.scope, user_id)

    def create_user(self, username: str, password: str, role: str, org: int | None) -> dict:
        return self.services.users.create(self.principal, self.scope, username, password, role, org, self.remote)

    def disable_user(self, user_id: int) -> dict:
        return self.services.users.disable(self.principal, self.scope, user_id, self.remote)

    def devices(self) -> list[dict]:
        idx = self.services.index
        out: dict[str, dict] = {}
        for sid in self.sensor_ids().tolist():
            info = idx.info[sid]
            d = out.setdefault(info["device"], {"code": info["device"], "enterprise": info["enterprise"],
                                                "sensors": []})
            d["sensors"].append(info["tag"])
        return sorted(out.values(), key=lambda d: d["code"])

    def issue_device_secret(self, code: str, label: str) -> dict:
        return self.services.device_credentials.issue(self.principal, self.scope, code, label, self.remote)

    def device_credentials(self, code: str) -> list[dict]:
        return self.services.device_credentials.list(self.scope, code)

    def revoke_device_secret(self, code: str, cred_id: int) -> dict:
        return self.services.device_credentials.revoke(self.principal, self.scope, code, cred_id, self.remote)

    # -- the caller's own credentials ------------------------------------------------------------------------
    def revoke_token(self, token: str) -> bool:
        return self.services.auth.revoke_token(token, self.principal, self.remote)

    def create_api_key(self, label: str, expires_days: int | None, password: str | None) -> dict:
        return self.services.auth.create_api_key(self.principal, label, expires_days, self.remote, password)

    def api_keys(self) -> list[dict]:
        return self.services.auth.api_keys(self.principal.user_id or 0)

    def revoke_api_key(self, key_id: int) -> None:
        self.services.auth.revoke_api_key(self.principal, key_id, self.remote)

    def change_password(self, new: str, current: str) -> None:
        self.services.users.set_password(self.principal, self.principal.user_id, new, current, self.remote)

    # -- this process (no tenant's data) ----------------------------------------------------------------------
    def adapters_health(self) -> list[dict]:
        return [a.health().as_dict() for a in self.services.adapters]

    def refresh_gauges(self) -> None:
        """The gauges /metrics reads at scrape time: the writer's queue and the ledger's size."""
        metrics.QUEUE.set(self.services.pipeline.queued())
        if self.services.ledger is not None:
            metrics.LEDGER.set(self.services.ledger.size)
            pub = self.services.ledger.published()
            metrics.LEDGER_PUBLISHED.set(pub[0] if pub else 0)

    def audit(self, **filters) -> list[dict]:
        return self.services.audit.query(self.scope, **filters)
