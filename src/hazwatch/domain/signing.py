"""How a device signs a telemetry batch: HMAC-SHA256 over "<sequence>\\n" + body, keyed with a key
derived from the device secret (HMAC-SHA256 of a fixed label under the secret). The platform
stores the SHA-256 of the secret to recognise it, which is *not* this key, and keeps the key itself
only wrapped under a server-side secret outside the database (auth/signing.py): a dump of the
database signs nothing. Pure functions, shared by the gateway that signs and the platform that
checks."""

from __future__ import annotations

import hashlib
import hmac

SEQUENCE_HEADER = "X-Hazwatch-Sequence"
SIGNATURE_HEADER = "X-Hazwatch-Signature"


KEY_LABEL = b"hazwatch batch signing v2"


def key_of(secret: str) -> bytes:
    return hmac.new(secret.encode(), KEY_LABEL, hashlib.sha256).digest()


def wrap(server_key: bytes, token_sha256: str, key: bytes) -> str:
    """The signing key as the database keeps it: XOR with a pad only the server key makes (one pad
    per credential, as its digest is unique). Unwrapping is the same operation."""
    pad = hmac.new(server_key, b"device-signing-key/" + token_sha256.encode(), hashlib.sha256).digest()
    return bytes(a ^ b for a, b in zip(key, pad, strict=True)).hex()


def unwrap(server_key: bytes, token_sha256: str, wrapped: str) -> bytes:
    return bytes.fromhex(wrap(server_key, token_sha256, bytes.fromhex(wrapped)))


def sign_with_key(key: bytes, sequence: int, body: bytes) -> str:
    return hmac.new(key, f"{sequence}\n".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, sequence: int, body: bytes) -> str:
    return sign_with_key(key_of(secret), sequence, body)


def matches(key: bytes, sequence: int, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign_with_key(key, sequence, body), signature.strip().lower())
