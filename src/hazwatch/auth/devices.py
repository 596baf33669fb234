"""Device credentials: one secret per device for HTTP ingest (as a bearer token) and for MQTT
(as the password of the user named after the device), and the Mosquitto password and ACL files
that let each device publish only to its own topics."""

from __future__ import annotations

import base64
import hashlib
import os
import time

from sqlalchemy import Engine, insert, select, update

from hazwatch.auth.audit import AuditLog
from hazwatch.auth.models import ApiToken
from hazwatch.auth.scope import Scope
from hazwatch.auth.service import AuthService, Principal
from hazwatch.auth.tokens import DEVICE, digest, new_token
from hazwatch.catalog.models import Device, Org
from hazwatch.domain.errors import NotFound
from hazwatch.domain.signing import key_of, wrap

_TOK = ApiToken.__table__
MQTT_ITERATIONS = 1000  # the secret is 256 random bits; the KDF only has to satisfy Mosquitto's format
TOPIC_ROOT = "hz/v1"


def mosquitto_hash(password: str, iterations: int = MQTT_ITERATIONS, salt: bytes | None = None) -> str:
    """The `$7$` (PBKDF2-HMAC-SHA512) line Mosquitto 2 reads from its password_file."""
    salt = salt or os.urandom(12)
    dk = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(dk).decode()}"


def topics(enterprise: str, device: str) -> tuple[str, str]:
    base = f"{TOPIC_ROOT}/{enterprise}/{device}"
    return f"{base}/telemetry", f"{base}/status"


class DeviceCredentials:
    def __init__(self, engine: Engine, audit: AuditLog, auth: AuthService, server_key: bytes | None = None) -> None:
        self.engine, self.audit, self.auth = engine, audit, auth
        self.server_key = server_key  # wraps the signing keys the database keeps

    def _device(self, conn, scope: Scope, code: str):
        dev = conn.execute(select(Device.id, Device.code, Device.org_id).where(Device.code == code)).first()
        if dev is None or not scope.allows(dev.org_id):
            raise NotFound(f"device {code!r} not found")
        return dev

    def issue(self, by: Principal, scope: Scope, code: str, label: str, remote: str | None = None) -> dict:
        """A new secret for the device; earlier ones stay valid for HTTP until revoked (rotation),
        while the MQTT password file always carries the newest."""
        secret = new_token(DEVICE)
        now = time.time_ns() // 1000
        with self.engine.begin() as conn:
            dev = self._device(conn, scope, code)
            d = digest(secret)
            wrapped = wrap(self.server_key, d, key_of(secret)) if self.server_key else None
            cid = conn.execute(insert(_TOK).values(device_id=dev.id, kind=DEVICE, token_sha256=d, sign_key=wrapped,
                                                 label=label, created_at=now, mqtt_hash=mosquitto_hash(secret))
                               ).inserted_primary_key[0]
            out = {"id": cid, "device": code, "label": label, "created_at": now}
            self.audit.record(conn, by.actor(remote), "device_credential.issue", "device_credential", cid,
                              dev.org_id, after=out)
        return {**out, "secret": secret, "mqtt_username": code}

    def list(self, scope: Scope, code: str) -> list[dict]:
        with self.engine.connect() as conn:
            dev = self._device(conn, scope, code)
            rows = conn.execute(select(_TOK.c.id, _TOK.c.label, _TOK.c.created_at, _TOK.c.revoked_at)
                                .where(_TOK.c.device_id == dev.id, _TOK.c.kind == DEVICE)
                                .order_by(_TOK.c.id)).mappings()
            return [{**r, "device": code} for r in rows]

    def revoke(self, by: Principal, scope: Scope, code: str, cred_id: int, remote: str | None = None) -> dict:
        with self.engine.begin() as conn:
            dev = self._device(conn, scope, code)
            tok = conn.execute(select(_TOK).where(_TOK.c.id == cred_id, _TOK.c.device_id == dev.id,
                                                _TOK.c.kind == DEVICE)).mappings().first()
            if tok is None:
                raise NotFound(f"credential {cred_id} of device {code!r} not found")
            if tok["revoked_at"] is None:
                now = time.time_ns() // 1000
                conn.execute(update(_TOK).where(_TOK.c.id == cred_id).values(revoked_at=now))
                self.audit.record(conn, by.actor(remote), "device_credential.revoke", "device_credential",
                                  cred_id, dev.org_id, before={"revoked_at": None}, after={"revoked_at": now})
        self.auth.forget([tok["token_sha256"]])
        return {"id": cred_id, "device": code, "revoked": True}

    def mosquitto_files(self, server_user: str, server_password: str) -> tuple[str, str]:
        """(password_file, acl_file) for every device with a live secret, plus the server's own
        account, which may read every Hazwatch topic and write none."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(Device.code, Org.code, _TOK.c.mqtt_hash)
                .join(Org, Org.id == Device.org_id)
                .join(_TOK, (_TOK.c.device_id == Device.id) & (_TOK.c.kind == DEVICE))
                .where(_TOK.c.revoked_at.is_(None), _TOK.c.mqtt_hash.is_not(None))
                .order_by(Device.code, _TOK.c.id)).all()
        newest: dict[str, tuple[str, str]] = {}
        for dev, ent, h in rows:  # ordered by id, so the last one per device wins
            newest[dev] = (ent, h)
        passwords = [f"{server_user}:{mosquitto_hash(server_password)}"]
        acl = ["# Generated by `hazwatch mqtt-auth export`: each device may publish only to its own topics.",
               "", f"user {server_user}", f"topic read {TOPIC_ROOT}/#", ""]
        for dev, (ent, h) in newest.items():
            telemetry, status = topics(ent, dev)
            passwords.append(f"{dev}:{h}")
            acl += [f"user {dev}", f"topic write {telemetry}", f"topic readwrite {status}", ""]
        return "\n".join(passwords) + "\n", "\n".join(acl)
