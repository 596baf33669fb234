"""What the public log shows of an entry: a salted commitment, not the entry.

The tiles under /ledger/ are public (witnesses and anyone mirror them), but an entry names its
subject: an alarm, an incident, a catalog code, a user. So since format 2 the leaf the tree holds
is `{"c":"<hex>","v":2}`, where c = SHA-256(salt ‖ entry) and the salt is a MAC of the entry (keyed
BLAKE2b, 16 bytes) under a key the server keeps beside its signing key, outside the database. The commitment binds the
entry (a changed entry no longer matches), and without the salt it reveals nothing that could be
guessed and checked, however small the set of candidate entries. A proof for someone allowed to see
the record carries the entry and its salt, and the verifier recomputes the leaf from them; the
salt of one entry tells nothing about any other."""

from __future__ import annotations

import hashlib


def public_entry(salt: bytes, entry: bytes) -> bytes:
    """The leaf body for `entry` (already canonical JSON): canonical {"c": ..., "v": 2}."""
    return b'{"c":"' + hashlib.sha256(salt + entry).hexdigest().encode() + b'","v":2}'


def is_public_entry(body: bytes) -> bool:
    return body.startswith(b'{"c":"') and body.endswith(b'","v":2}') and len(body) == 78


class Committer:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the commitment key must be at least 32 bytes")
        self.key = key

    def salt(self, entry: bytes) -> bytes:
        # keyed BLAKE2b is a MAC in one C call: this runs once per entry on the ledger thread
        return hashlib.blake2b(entry, key=self.key[:64], digest_size=16).digest()

    def public(self, entry: bytes) -> bytes:
        return public_entry(self.salt(entry), entry)
