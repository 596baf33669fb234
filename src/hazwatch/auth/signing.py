"""Signed telemetry batches: what an edge gateway sends across a network it does not trust.

A batch carries `X-Hazwatch-Sequence` (a number that grows with every batch the device sends) and
`X-Hazwatch-Signature`, the hex HMAC-SHA256 of "<sequence>\\n" + body, keyed with the SHA-256 of
the device's secret (domain/signing.py; the platform keeps it wrapped under a server-side key, so
neither the secret nor the key is in the database). A
signature that does not match means the batch was forged or altered on the way; a sequence not
above the last one accepted from that credential means an old batch was replayed. Both are
refused with the reason. A gateway that resends a batch it already delivered (its answer was lost)
gets the replay answer and may drop it: the readings are stored."""

from __future__ import annotations

from sqlalchemy import Engine, or_, select, update

from hazwatch.auth.models import ApiToken
from hazwatch.domain.errors import Conflict, ServiceError
from hazwatch.domain.signing import SEQUENCE_HEADER, SIGNATURE_HEADER, key_of, matches, sign, unwrap

__all__ = ["SEQUENCE_HEADER", "SIGNATURE_HEADER", "BatchSignatures", "Unsigned", "sign"]
_TOK = ApiToken.__table__


class Unsigned(ServiceError):
    status = 401


class BatchSignatures:
    def __init__(self, engine: Engine, server_key: bytes | None = None) -> None:
        self.engine, self.server_key = engine, server_key

    def check(self, secret: str, token_id: int, sequence: str | None, signature: str | None, body: bytes,
              required: bool) -> int | None:
        """The batch's sequence once its signature holds and it is new; None for an unsigned batch
        where signing is not required."""
        if sequence is None and signature is None:
            if required:
                raise Unsigned(f"unsigned batch: this installation requires {SEQUENCE_HEADER} and "
                               f"{SIGNATURE_HEADER} on device batches")
            return None
        if sequence is None or signature is None or not sequence.isdigit() or len(sequence) > 18:
            raise Unsigned(f"a signed batch needs both {SEQUENCE_HEADER} (a non-negative integer) and "
                           f"{SIGNATURE_HEADER}")
        return self.verify(key_of(secret), token_id, int(sequence), signature, body)

    def check_posted(self, headers, token_id: int, body: bytes, required: bool) -> int | None:
        """`check` for a batch posted over HTTP by a device: its secret from the bearer header, the
        sequence and signature from theirs."""
        return self.check(headers.get("authorization", "")[7:].strip(), token_id, headers.get(SEQUENCE_HEADER),
                          headers.get(SIGNATURE_HEADER), body, required)

    def verify(self, key: bytes, token_id: int, seq: int, signature: str, body: bytes) -> int:
        """Signature and sequence of a batch, given the credential's key (SHA-256 of its secret)."""
        if not matches(key, seq, body, signature):
            raise Unsigned("signature does not match the batch: it was forged or altered on the way")
        with self.engine.connect() as conn:
            last = conn.scalar(select(_TOK.c.last_sequence).where(_TOK.c.id == token_id))
        if last is not None and seq <= last:
            raise Conflict(f"replayed batch: sequence {seq} is not above {last}, the last accepted from this "
                           "device; its readings were stored when it first came")
        return seq

    def device_key(self, token_id: int, device_id: int) -> bytes | None:
        """The signing key of a live device credential of this device (batches that arrive over MQTT
        name their credential), None if there is no such credential."""
        with self.engine.connect() as conn:
            row = conn.execute(select(_TOK.c.token_sha256, _TOK.c.sign_key).where(
                _TOK.c.id == token_id, _TOK.c.device_id == device_id, _TOK.c.kind == "device",
                _TOK.c.revoked_at.is_(None))
            ).first()
        if row is None or row.sign_key is None or self.server_key is None:
            return None  # a credential issued before keys were wrapped signs over HTTP only: issue a new one
        return unwrap(self.server_key, row.token_sha256, row.sign_key)

    def accepted(self, token_id: int, seq: int) -> None:
        """Remember the sequence once the batch is stored (a later, higher one may have won a race)."""
        with self.engine.begin() as conn:
            conn.execute(update(_TOK).where(_TOK.c.id == token_id, or_(_TOK.c.last_sequence.is_(None),
                                                                    _TOK.c.last_sequence < seq))
                         .values(last_sequence=seq))
