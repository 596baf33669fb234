"""User administration within a scope: who may create whom, where."""

from __future__ import annotations

import time

from sqlalchemy import Engine, func, insert, select, update

from hazwatch.auth import roles
from hazwatch.auth.audit import AuditLog
from hazwatch.auth.models import ApiToken, User
from hazwatch.auth.passwords import check_strength, hash_password, verify_password
from hazwatch.auth.scope import OrgTrees, Scope
from hazwatch.auth.service import AuthService, Principal
from hazwatch.domain.errors import Conflict, Forbidden, Invalid, NotFound
from hazwatch.domain.text import a

_U = User.__table__
_TOK = ApiToken.__table__


def _public(row, orgs) -> dict:
    node = orgs.nodes.get(row.org_id) if row.org_id is not None else None
    return {"id": row.id, "username": row.name, "role": row.role, "org": row.org_id,
            "org_code": node.code if node else None, "disabled": bool(row.disabled)}


class UserDirectory:
    def __init__(self, engine: Engine, audit: AuditLog, auth: AuthService, orgs: OrgTrees) -> None:
        self.engine, self.audit, self.auth, self.orgs = engine, audit, auth, orgs

    def create(self, by: Principal, scope: Scope, username: str, password: str, role: str, org_id: int | None,
               remote: str | None = None) -> dict:
        tree = self.orgs.current()
        if role not in roles.ROLE_ORG_KINDS:
            raise Invalid(f"role {role!r} cannot be given to a user; one of: {', '.join(roles.ROLE_ORG_KINDS)}")
        if org_id is None:
            if not scope.everything:
                raise Invalid("`org` is required: a user belongs to one org in your scope")
        elif org_id not in tree.nodes or not scope.allows(org_id):
            raise NotFound(f"org {org_id} not found")
        if role not in roles.GRANTS.get(by.role, frozenset()):
            raise Forbidden(f"{a(by.role)} may not create {role} users")
        kind = tree.nodes[org_id].kind if org_id is not None else None
        if kind not in roles.ROLE_ORG_KINDS[role]:
            where = "the whole installation" if kind is None else a(kind)
            fits = ", ".join(k or "the whole installation" for k in sorted(roles.ROLE_ORG_KINDS[role], key=str))
            raise Invalid(f"{a(role)} cannot belong to {where}; it belongs to: {fits}")
        weak = check_strength(password)
        if weak:
            raise Invalid(weak)
        digest = hash_password(password)
        with self.engine.begin() as conn:
            if conn.scalar(select(_U.c.id).where(_U.c.name == username)) is not None:
                raise Conflict(f"user name {username!r} is taken")
            uid = conn.execute(insert(_U).values(name=username, role=role, org_id=org_id, password_hash=digest,
                                                 disabled=False, created_at=time.time_ns() // 1000)
                               ).inserted_primary_key[0]
            out = {"id": uid, "username": username, "role": role, "org": org_id}
            self.audit.record(conn, by.actor(remote), "user.create", "user", uid, org_id, after=out)
        return self.get(scope, uid)

    def holders(self, role: str, org_id: int) -> list[tuple[int, str]]:
        """Enabled users of `role` whose scope holds `org_id` (their org is it or lies above it): who
        an incident in that org calls at that tier of its ladder."""
        tree = self.orgs.current()
        above, cur = set(), org_id
        while cur is not None and cur in tree.nodes and cur not in above:
            above.add(cur)
            cur = tree.nodes[cur].parent
        with self.engine.connect() as conn:
            rows = conn.execute(select(_U.c.id, _U.c.name, _U.c.org_id).where(
                _U.c.role == role, _U.c.disabled.is_(False)).order_by(_U.c.id)).all()
        return [(r.id, r.name) for r in rows if r.org_id is None or r.org_id in above]

    def installed_at(self) -> int | None:
        """When this installation began: its first user (the admin made at first start)."""
        with self.engine.connect() as conn:
            return conn.scalar(select(func.min(User.created_at)))

    def list(self, scope: Scope) -> list[dict]:
        tree = self.orgs.current()
        q = select(_U).order_by(_U.c.id)
        if not scope.everything:
            q = q.where(_U.c.org_id.in_(sorted(scope.org_ids or ())))
        with self.engine.connect() as conn:
            return [_public(r, tree) for r in conn.execute(q)]

    def get(self, scope: Scope, user_id: int) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(select(_U).where(_U.c.id == user_id)).first()
        if row is None or not scope.allows(row.org_id):
            raise NotFound(f"user {user_id} not found")
        return _public(row, self.orgs.current())

    def disable(self, by: Principal, scope: Scope, user_id: int, remote: str | None = None) -> dict:
        """Disable the user and revoke every token and key they hold."""
        before = self.get(scope, user_id)
        if user_id == by.user_id:
            raise Conflict("you cannot disable yourself")
        if before["role"] not in roles.GRANTS.get(by.role, frozenset()):
            raise Forbidden(f"{a(by.role)} may not disable {before['role']} users")
        now = time.time_ns() // 1000
        with self.engine.begin() as conn:
            conn.execute(update(_U).where(_U.c.id == user_id).values(disabled=True))
            conn.execute(update(_TOK).where(_TOK.c.user_id == user_id, _TOK.c.revoked_at.is_(None))
                         .values(revoked_at=now))
            self.audit.record(conn, by.actor(remote), "user.disable", "user", user_id, before["org"],
                              before={"disabled": before["disabled"]}, after={"disabled": True})
        self.auth.forget()
        return self.get(scope, user_id)

    def set_password(self, by: Principal, user_id: int, new: str, current: str | None = None,
                     remote: str | None = None) -> None:
        """Change a password. With `current`, the user's own change (the current password must
        match); without, an administrator's reset. Either way every session and API key of the
        user is revoked except the token making the change, so a stolen session or key ends with it."""
        with self.engine.connect() as conn:
            row = conn.execute(select(_U).where(_U.c.id == user_id)).first()
        if row is None:
            raise NotFound(f"user {user_id} not found")
        if current is not None and not verify_password(row.password_hash, current):
            raise Invalid("`current` is not the user's password")
        weak = check_strength(new)
        if weak:
            raise Invalid(weak)
        digest = hash_password(new)
        now = time.time_ns() // 1000
        with self.engine.begin() as conn:
            conn.execute(update(_U).where(_U.c.id == user_id).values(password_hash=digest))
            conn.execute(update(_TOK).where(_TOK.c.user_id == user_id,
                                            _TOK.c.kind.in_(("access", "refresh", "api_key")),
                                          _TOK.c.revoked_at.is_(None), _TOK.c.id != (by.token_id or -1))
                         .values(revoked_at=now))
            self.audit.record(conn, by.actor(remote), "user.password_change" if current is not None
                              else "user.password_reset", "user", user_id, row.org_id)
        self.auth.forget()
