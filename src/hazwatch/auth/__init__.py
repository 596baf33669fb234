"""Who may do what, where: users and roles, tenant scopes (org subtrees), credentials for people,
integrations and devices, and the audit log of every write."""

from hazwatch.auth.audit import Actor, AuditLog
from hazwatch.auth.devices import DeviceCredentials
from hazwatch.auth.scope import OrgTree, OrgTrees, Scope
from hazwatch.auth.service import AuthService, InvalidGrant, Principal, TokenPair
from hazwatch.auth.users import UserDirectory

__all__ = ["Actor", "AuditLog", "AuthService", "DeviceCredentials", "InvalidGrant", "OrgTree", "OrgTrees",
           "Principal", "Scope", "TokenPair", "UserDirectory"]
