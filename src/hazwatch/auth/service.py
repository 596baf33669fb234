"""Bearer-token authentication. Tokens are random 256-bit strings stored as SHA-256 digests, so
a leaked database does not leak credentials and lookups need no slow KDF."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select

from hazwatch.auth.models import ApiToken, User

ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    user_id: int
    name: str
    role: str
    org_id: int | None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cache: dict[str, Principal] = {}

    def ensure_admin(self, token: str | None) -> str | None:
        """Create the first admin on first start. Returns a newly generated token (to print once),
        or None when the token was given or the admin already existed."""
        now = time.time_ns() // 1000
        generated = None
        with self.engine.begin() as conn:
            admin_id = conn.scalar(select(User.id).where(User.name == ADMIN))
            if admin_id is None:
                admin_id = conn.execute(insert(User).values(name=ADMIN, role=ADMIN, org_id=None, created_at=now)
                                        ).inserted_primary_key[0]
                if token is None:
                    token = generated = secrets.token_urlsafe(32)
            if token is not None:
                digest = _digest(token)
                if conn.scalar(select(ApiToken.id).where(ApiToken.token_sha256 == digest)) is None:
                    conn.execute(insert(ApiToken).values(user_id=admin_id, token_sha256=digest,
                                                         label="admin", created_at=now))
        return generated

    def authenticate(self, token: str) -> Principal | None:
        digest = _digest(token)
        hit = self._cache.get(digest)
        if hit is not None:
            return hit
        with self.engine.connect() as conn:
            row = conn.execute(select(ApiToken.token_sha256, User.id, User.name, User.role, User.org_id)
                               .join(User, User.id == ApiToken.user_id)
                               .where(ApiToken.token_sha256 == digest)).first()
        if row is None or not hmac.compare_digest(row[0], digest):
            return None
        principal = Principal(row[1], row[2], row[3], row[4])
        self._cache[digest] = principal
        return principal
