"""Users, credentials and the audit log."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hazwatch.db import Base


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(30))
    # Scope: the org subtree the user sees; None = the whole installation (the first admin).
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)  # argon2id
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Base):
    """Every bearer credential: login access and refresh tokens, API keys and device secrets.

    Only the SHA-256 of a token is kept (tokens are 256-bit random, so no slow KDF is needed and a
    leaked table leaks nothing usable). A device secret also keeps the PBKDF2 hash Mosquitto checks,
    computed when the secret is issued, so the broker's password file can be exported later."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(10), default="api_key")  # access|refresh|api_key|device
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # the log-in a session token descends from (through refresh rotations): a spent refresh token
    # presented again ends that log-in's tokens, and no other session of the user
    family: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    # a device secret's batch-signing key, wrapped under the server's key file (domain/signing.py)
    sign_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mqtt_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_sequence: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # signed batches: replay guard


class AuditEntry(Base):
    """Append-only (database triggers refuse UPDATE and DELETE): who changed what, when, from what
    to what. `org_id` is the org the changed object lives in, so the log is filtered by scope."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(30))
    org_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(100))
    before: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    remote: Mapped[str | None] = mapped_column(String(100), nullable=True)
