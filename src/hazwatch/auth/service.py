"""Authentication: who is calling. Passwords (argon2id) buy a short-lived access token and a
refresh token (OAuth2 password and refresh_token grants); API keys serve integrations; device
secrets serve field devices. Every credential can be revoked, and a revoked or expired credential
stops working within `CACHE_S` seconds on every process (at once on the one that revoked it)."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from hazwatch.auth import roles
from hazwatch.auth.audit import Actor, AuditLog
from hazwatch.auth.models import ApiToken, User
from hazwatch.auth.passwords import verify_password
from hazwatch.auth.throttle import LoginThrottle
from hazwatch.auth.tokens import ACCESS, API_KEY, DEVICE, REFRESH, digest, new_token
from hazwatch.catalog.models import Device
from hazwatch.db.base import startup_lock
from hazwatch.domain.errors import Invalid, NotFound, TooMany

ADMIN = roles.ADMIN
BOOTSTRAP = "admin (bootstrap)"
CACHE_S = 5.0
FRESH_S = 300  # an access token this young from a password log-in may make an API key without the password
PASSWORD_LOGIN = "login"  # the label of tokens issued by a password log-in ("refresh" for a rotation)
UNKNOWN_NAME = "(unknown user name)"
_TOK = ApiToken.__table__


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    name: str
    role: str
    org_id: int | None
    device_id: int | None = None
    token_id: int | None = None
    token_kind: str = API_KEY

    def actor(self, remote: str | None = None) -> Actor:
        return Actor(self.name, self.role, remote)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class InvalidGrant(Exception):
    """Wrong name or password, or an unusable refresh token (OAuth2 `invalid_grant`)."""


def _now_us() -> int:
    return time.time_ns() // 1000


class AuthService:
    def __init__(self, engine: Engine, audit: AuditLog, throttle: LoginThrottle | None = None,
                 access_ttl_s: int = 900, refresh_ttl_s: int = 7 * 86400) -> None:
        self.engine = engine
        self.audit = audit
        self.throttle = throttle or LoginThrottle()
        self.access_ttl_s, self.refresh_ttl_s = access_ttl_s, refresh_ttl_s
        self._cache: dict[str, tuple[Principal, int | None, float]] = {}
        self._lock = threading.Lock()

    # -- bootstrap -----------------------------------------------------------------------------------
    def ensure_admin(self, token: str | None) -> str | None:
        """Create the first admin on first start. Returns a newly generated token (to print once),
        or None when the token was given or the admin already existed."""
        now = _now_us()
        generated = None
        with self.engine.begin() as conn:
            startup_lock(conn)
            admin_id = conn.scalar(select(User.id).where(User.name == ADMIN))
            if admin_id is None:
                admin_id = conn.execute(insert(User).values(name=ADMIN, role=ADMIN, org_id=None, created_at=now)
                                        ).inserted_primary_key[0]
                if token is None:
                    token = generated = new_token(API_KEY)
            if token is not None:
                d = digest(token)
                if conn.scalar(select(_TOK.c.id).where(_TOK.c.token_sha256 == d)) is None:
                    conn.execute(insert(_TOK).values(user_id=admin_id, token_sha256=d, kind=API_KEY,
                                                   label=BOOTSTRAP, created_at=now))
                if generated is None:
                    # HAZWATCH_ADMIN_TOKEN is the one bootstrap key: changing it retires the old one.
                    conn.execute(update(_TOK).where(_TOK.c.user_id == admin_id, _TOK.c.label == BOOTSTRAP,
                                                  _TOK.c.token_sha256 != d, _TOK.c.revoked_at.is_(None))
                                 .values(revoked_at=now))
        self.forget()
        return generated

    # -- every request -------------------------------------------------------------------------------
    def cached(self, token: str) -> Principal | None:
        """The principal if this token was looked up in the last CACHE_S seconds and is still
        valid: no I/O, so the event loop may call it."""
        hit = self._cache.get(digest(token))
        if hit is not None and time.monotonic() - hit[2] < CACHE_S and (hit[1] is None or hit[1] > _now_us()):
            return hit[0]
        return None

    def authenticate(self, token: str) -> Principal | None:
        hit = self.cached(token)
        if hit is not None:
            return hit
        d = digest(token)
        mono = time.monotonic()
        principal, expires = self._lookup(d)
        if principal is None:
            self._cache.pop(d, None)
            return None
        with self._lock:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[d] = (principal, expires, mono)
        return principal

    def current(self, token: str) -> Principal | None:
        """The principal as the database has it now, past the cache: for a long-lived connection
        (the live stream) that must notice a revoked key or a disabled user within seconds."""
        return self._lookup(digest(token))[0]

    def _lookup(self, d: str) -> tuple[Principal | None, int | None]:
        now = _now_us()
        with self.engine.connect() as conn:
            tok = conn.execute(select(_TOK).where(_TOK.c.token_sha256 == d)).mappings().first()
            if (tok is None or not hmac.compare_digest(tok["token_sha256"], d) or tok["revoked_at"] is not None
                    or tok["kind"] == REFRESH or (tok["expires_at"] is not None and tok["expires_at"] <= now)):
                return None, None
            if tok["kind"] == DEVICE:
                dev = conn.execute(select(Device.id, Device.code, Device.org_id)
                                   .where(Device.id == tok["device_id"])).first()
                if dev is None:
                    return None, None
                return Principal(None, f"device:{dev.code}", roles.DEVICE, dev.org_id, dev.id, tok["id"],
                                 DEVICE), tok["expires_at"]
            user = conn.execute(select(User.__table__).where(User.id == tok["user_id"])).first()
            if user is None or user.disabled:
                return None, None
            return (Principal(user.id, user.name, user.role, user.org_id, None, tok["id"], tok["kind"]),
                    tok["expires_at"])

    def forget(self, digests: list[str] | None = None) -> None:
        """Drop cached principals (after a revocation or a user change on this process)."""
        with self._lock:
            if digests is None:
                self._cache.clear()
            else:
                for d in digests:
                    self._cache.pop(d, None)

    # -- OAuth2 grants -------------------------------------------------------------------------------
    def login(self, username: str, password: str, remote: str | None = None) -> TokenPair:
        mono = time.monotonic()
        wait = self.throttle.wait(username, mono, remote)
        if wait > 0:
            raise TooMany(f"too many failed logins from this address; try again in {wait:.0f} s", wait)
        with self.engine.connect() as conn:
            user = conn.execute(select(User.__table__).where(User.name == username)).first()
        ok = verify_password(user.password_hash if user else None, password)
        if not ok or user is None or user.disabled:
            lock = self.throttle.failed(username, mono, remote)
            # what was typed as the name is kept only where it names a user: a password typed into
            # the name field must not land in the audit log (and the ledger that seals it)
            name = user.name if user is not None else UNKNOWN_NAME
            with self.engine.begin() as conn:
                self.audit.record(conn, Actor(name, "anonymous", remote), "auth.login_failed", "user", name,
                                  user.org_id if user else None, after={"locked_s": lock} if lock else None)
            raise InvalidGrant("wrong user name or password")
        self.throttle.succeeded(username, remote)
        with self.engine.begin() as conn:
            return self._issue_pair(conn, user.id, PASSWORD_LOGIN, secrets.token_hex(16))

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: the refresh token is spent and a new pair issued, in one conditional update, so
        of two refreshes with the same token only one wins. A spent token presented again means it
        was stolen or replayed: every token descended from the same log-in ends (its family), and
        whoever holds it logs in again; the user's other sessions and API keys stay."""
        d = digest(refresh_token)
        now = _now_us()
        reused = False
        with self.engine.begin() as conn:
            tok = conn.execute(select(_TOK).where(_TOK.c.token_sha256 == d, _TOK.c.kind == REFRESH)).mappings().first()
            if tok is not None and (tok["expires_at"] or 0) > now:
                spent = conn.execute(update(_TOK).where(_TOK.c.id == tok["id"], _TOK.c.revoked_at.is_(None))
                                     .values(revoked_at=now)).rowcount != 1
                if not spent:
                    user = conn.execute(select(User.__table__).where(User.id == tok["user_id"])).first()
                    if user is None or user.disabled:
                        raise InvalidGrant("the user of this refresh token is disabled")
                    return self._issue_pair(conn, user.id, "refresh", tok["family"])
                reused = True
                conn.execute(update(_TOK).where(_TOK.c.user_id == tok["user_id"], _TOK.c.family == tok["family"],
                                              _TOK.c.revoked_at.is_(None)).values(revoked_at=now))
                self.audit.record(conn, Actor("(refresh token)", "anonymous", None), "auth.refresh_reused", "user",
                                  tok["user_id"], None)
        if reused:
            self.forget()
        raise InvalidGrant("refresh token is unknown, spent, revoked or expired")

    def _issue_pair(self, conn, user_id: int, how: str, family: str | None) -> TokenPair:
        now = _now_us()
        access, refresh = new_token(ACCESS), new_token(REFRESH)
        conn.execute(insert(_TOK), [
            {"user_id": user_id, "kind": ACCESS, "token_sha256": digest(access), "label": how, "family": family,
             "created_at": now, "expires_at": now + self.access_ttl_s * 1_000_000},
            {"user_id": user_id, "kind": REFRESH, "token_sha256": digest(refresh), "label": how, "family": family,
             "created_at": now, "expires_at": now + self.refresh_ttl_s * 1_000_000},
        ])
        return TokenPair(access, self.access_ttl_s, refresh, self.refresh_ttl_s)

    def revoke_token(self, token: str, by: Principal, remote: str | None = None) -> bool:
        """RFC 7009: revoke a token the caller holds (or an admin's user's token). Unknown tokens are
        not an error, so the answer does not reveal whether a token exists."""
        d = digest(token)
        with self.engine.begin() as conn:
            tok = conn.execute(select(_TOK).where(_TOK.c.token_sha256 == d)).mappings().first()
            if tok is None or tok["revoked_at"] is not None:
                return False
            mine = (tok["user_id"] is not None and tok["user_id"] == by.user_id) or tok["id"] == by.token_id
            if not (mine or (by.role == ADMIN and by.org_id is None)):
                return False
            conn.execute(update(_TOK).where(_TOK.c.id == tok["id"]).values(revoked_at=_now_us()))
            self.audit.record(conn, by.actor(remote), "token.revoke", tok["kind"], tok["id"], by.org_id)
        self.forget([d])
        return True

    # -- API keys --------------------------------------------------------------------------------------
    def create_api_key(self, by: Principal, label: str, expires_days: float | None,
                       remote: str | None = None, password: str | None = None) -> dict:
        """A key outlives the session that makes it, so making one asks for the password again,
        unless the caller logged in with it a moment ago (an access token from a password log-in
        under FRESH_S old): a stolen session or key cannot mint a lasting one."""
        if by.user_id is None:
            raise Invalid("only users hold API keys")
        now = _now_us()
        with self.engine.connect() as conn:
            user = conn.execute(select(User.__table__).where(User.id == by.user_id)).first()
            tok = conn.execute(select(_TOK.c.kind, _TOK.c.label, _TOK.c.created_at)
                               .where(_TOK.c.id == (by.token_id or -1))
                               ).first()
        fresh = tok is not None and tok.kind == ACCESS and tok.label == PASSWORD_LOGIN and \
            now - tok.created_at <= FRESH_S * 1_000_000
        if not fresh and not (password is not None and user is not None
                              and verify_password(user.password_hash, password)):
            raise Invalid("making an API key needs your password (`password`), or a log-in with it in the last "
                          f"{FRESH_S // 60} minutes")
        key = new_token(API_KEY)
        expires = now + int(expires_days * 86400e6) if expires_days else None
        with self.engine.begin() as conn:
            kid = conn.execute(insert(_TOK).values(user_id=by.user_id, kind=API_KEY, token_sha256=digest(key),
                                                 label=label, created_at=now, expires_at=expires)
                               ).inserted_primary_key[0]
            out = {"id": kid, "label": label, "created_at": now, "expires_at": expires}
            self.audit.record(conn, by.actor(remote), "api_key.create", "api_key", kid, by.org_id, after=out)
        return {**out, "key": key}

    def api_keys(self, user_id: int) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(_TOK.c.id, _TOK.c.label, _TOK.c.created_at, _TOK.c.expires_at, _TOK.c.revoked_at)
                                .where(_TOK.c.user_id == user_id, _TOK.c.kind == API_KEY)
                                .order_by(_TOK.c.id)).mappings()
            return [dict(r) for r in rows]

    def revoke_api_key(self, by: Principal, key_id: int, remote: str | None = None) -> dict:
        with self.engine.begin() as conn:
            tok = conn.execute(select(_TOK).where(_TOK.c.id == key_id, _TOK.c.kind == API_KEY,
                                                _TOK.c.user_id == by.user_id)).mappings().first()
            if tok is None:
                raise NotFound(f"API key {key_id} not found")
            if tok["revoked_at"] is None:
                now = _now_us()
                conn.execute(update(_TOK).where(_TOK.c.id == key_id).values(revoked_at=now))
                self.audit.record(conn, by.actor(remote), "api_key.revoke", "api_key", key_id, by.org_id,
                                  before={"revoked_at": None}, after={"revoked_at": now})
        self.forget([tok["token_sha256"]])
        return {"id": key_id, "revoked": True}
