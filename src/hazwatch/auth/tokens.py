"""Bearer token material: random 256-bit strings with a prefix naming their kind (so secret
scanners and people can tell an access token from a device secret), stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets

ACCESS, REFRESH, API_KEY, DEVICE = "access", "refresh", "api_key", "device"
PREFIX = {ACCESS: "hza_", REFRESH: "hzr_", API_KEY: "hzk_", DEVICE: "hzd_"}


def new_token(kind: str) -> str:
    return PREFIX[kind] + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
