"""Users, roles, API tokens. Tenant scopes (org subtrees) are carried on every principal now;
their full enforcement and the role table arrive with the security work."""

from hazwatch.auth.service import AuthService, Principal

__all__ = ["AuthService", "Principal"]
