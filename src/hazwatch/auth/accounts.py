"""One principal's accounts: the users, device secrets and audit log of its scope, and its own
tokens, keys and password. Each service checks the scope and the role itself and writes the audit
log; this binds the caller (principal, scope, where from) once, so the scoping facade hands the
routers one object instead of a pass-through per command."""

from __future__ import annotations

from dataclasses import dataclass

from hazwatch.auth.audit import AuditLog
from hazwatch.auth.devices import DeviceCredentials
from hazwatch.auth.scope import Scope
from hazwatch.auth.service import AuthService, Principal
from hazwatch.auth.users import UserDirectory


@dataclass(frozen=True)
class Accounts:
    user_directory: UserDirectory
    device_secrets: DeviceCredentials
    auth: AuthService
    audit_log: AuditLog
    principal: Principal
    scope: Scope
    remote: str | None = None

    def users(self) -> list[dict]:
        return self.user_directory.list(self.scope)

    def user(self, user_id: int) -> dict:
        return self.user_directory.get(self.scope, user_id)

    def create_user(self, username: str, password: str, role: str, org: int | None) -> dict:
        return self.user_directory.create(self.principal, self.scope, username, password, role, org, self.remote)

    def disable_user(self, user_id: int) -> dict:
        return self.user_directory.disable(self.principal, self.scope, user_id, self.remote)

    def issue_device_secret(self, code: str, label: str) -> dict:
        return self.device_secrets.issue(self.principal, self.scope, code, label, self.remote)

    def device_credentials(self, code: str) -> list[dict]:
        return self.device_secrets.list(self.scope, code)

    def revoke_device_secret(self, code: str, cred_id: int) -> dict:
        return self.device_secrets.revoke(self.principal, self.scope, code, cred_id, self.remote)

    def audit(self, **filters) -> list[dict]:
        return self.audit_log.query(self.scope, **filters)

    def revoke_token(self, token: str) -> bool:
        return self.auth.revoke_token(token, self.principal, self.remote)

    def create_api_key(self, label: str, expires_days: int | None, password: str | None) -> dict:
        return self.auth.create_api_key(self.principal, label, expires_days, self.remote, password)

    def api_keys(self) -> list[dict]:
        return self.auth.api_keys(self.principal.user_id or 0)

    def revoke_api_key(self, key_id: int) -> None:
        self.auth.revoke_api_key(self.principal, key_id, self.remote)

    def change_password(self, new: str, current: str) -> None:
        self.user_directory.set_password(self.principal, self.principal.user_id, new, current, self.remote)
