"""How a device signs a telemetry batch: HMAC-SHA256 over "<sequence>\\n" + body, keyed with the
SHA-256 of the device secret (which is what the platform stores). Pure functions, shared by the
gateway that signs and the platform that checks."""

from __future__ import annotations

import hashlib
import hmac

SEQUENCE_HEADER = "X-Hazwatch-Sequence"
SIGNATURE_HEADER = "X-Hazwatch-Signature"


def key_of(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def sign_with_key(key: bytes, sequence: int, body: bytes) -> str:
    return hmac.new(key, f"{sequence}\n".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, sequence: int, body: bytes) -> str:
    return sign_with_key(key_of(secret), sequence, body)


def matches(key: bytes, sequence: int, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign_with_key(key, sequence, body), signature.strip().lower())
