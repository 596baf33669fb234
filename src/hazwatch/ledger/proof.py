"""C2SP tlog-proof (c2sp.org/tlog-proof): one entry's self-contained, offline-verifiable proof.

    c2sp.org/tlog-proof@v1
    extra <base64 of canonical JSON {"entry": the entry text, "salt": hex, "record": the sealed row}>
    index <N>
    <inclusion proof, one base64 hash per line>

    <the cosigned checkpoint>

The extra data is not trusted by itself: the verifier hashes `entry` into the leaf the inclusion
proof starts from, and checks that the SHA-256 of the canonical `record` is the digest the entry
sealed. So a proof shows what the record said when it was logged, and that the log (and its
witnesses) committed to it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import orjson

from hazwatch.ledger.canonical import canonical
from hazwatch.ledger.commit import public_entry
from hazwatch.ledger.entries import record_digest
from hazwatch.ledger.merkle import leaf_hash, verify_inclusion
from hazwatch.ledger.note import NoteError, Verifier, open_checkpoint

HEADER = "c2sp.org/tlog-proof@v1"


class ProofFormatError(ValueError):
    pass


@dataclass(frozen=True)
class Proof:
    index: int
    path: list[bytes]
    checkpoint: str
    extra: bytes | None


def render_proof(index: int, path: list[bytes], checkpoint: str, extra: bytes | None = None) -> str:
    out = [HEADER]
    if extra is not None:
        out.append("extra " + base64.b64encode(extra).decode())
    out.append(f"index {index}")
    out += [base64.b64encode(p).decode() for p in path]
    return "\n".join(out) + "\n\n" + checkpoint


def parse_proof(text: str) -> Proof:
    head, sep, checkpoint = text.partition("\n\n")
    if not sep:
        raise ProofFormatError("a tlog-proof is its header lines, an empty line, then the checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise ProofFormatError(f"first line must be {HEADER!r}")
    i, extra = 1, None
    try:
        if len(lines) > i and lines[i].startswith("extra "):
            extra = base64.b64decode(lines[i][6:], validate=True)
            i += 1
        if len(lines) <= i or not lines[i].startswith("index ") or not lines[i][6:].isdigit():
            raise ProofFormatError("missing 'index <N>' line")
        index = int(lines[i][6:])
        path = [base64.b64decode(x, validate=True) for x in lines[i + 1:]]
    except ValueError as e:
        if isinstance(e, ProofFormatError):
            raise
        raise ProofFormatError(f"bad base64 in the proof: {e}") from None
    return Proof(index, path, checkpoint, extra)


@dataclass(frozen=True)
class Verified:
    index: int
    size: int
    entry: dict
    record: dict | None
    cosigners: list[str]


def verify_proof(text: str, log_key: Verifier, witnesses: list[Verifier], quorum: int) -> Verified:
    """Everything a regulator checks offline about one entry; raises with the reason otherwise."""
    p = parse_proof(text)
    cp, _note, good = open_checkpoint(p.checkpoint, log_key, witnesses, quorum)
    if p.extra is None:
        raise ProofFormatError("the proof carries no entry (extra line): nothing to check inclusion of")
    try:
        extra = orjson.loads(p.extra)
        entry_text = extra["entry"]
        entry = orjson.loads(entry_text)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise ProofFormatError("the extra data is not {\"entry\": ..., \"record\": ...}") from None
    body = entry_text.encode()
    if canonical(entry) != body:
        raise ProofFormatError("the entry is not in canonical (RFC 8785) form")
    salt = extra.get("salt")
    if salt is not None:  # format 2: the log holds a commitment to the entry (ledger/commit.py)
        try:
            body = public_entry(bytes.fromhex(salt), body)
        except (ValueError, TypeError):
            raise ProofFormatError("the salt is not hex") from None
    verify_inclusion(p.index, cp.size, leaf_hash(body), p.path, cp.root)
    record = extra.get("record")
    if record is not None and record_digest(record) != entry.get("sha256"):
        raise NoteError(f"the record does not match the digest entry {p.index} sealed: it was changed after logging")
    return Verified(p.index, cp.size, entry, record, [w.name for w in witnesses if w.name in good])
