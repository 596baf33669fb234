"""C2SP signed notes (c2sp.org/signed-note), checkpoints (c2sp.org/tlog-checkpoint) and Ed25519
witness cosignatures (c2sp.org/tlog-cosignature), in the encodings the Go reference tools use, so
keys and checkpoints move between Hazwatch and other implementations unchanged.

Keys travel as text:
    signer   PRIVATE+KEY+<name>+<key id hex>+<base64(type || 32-byte Ed25519 seed)>
    verifier <name>+<key id hex>+<base64(type || 32-byte Ed25519 public key)>
with type 0x01 for a log's note signature and 0x04 for a witness's timestamped cosignature, and
key id = SHA-256(name || "\\n" || type || public key)[:4].
"""

from __future__ import annotations

import base64
import hashlib
import struct
import time
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
DASH = "\u2014"
MAX_SIGNATURES = 32


class NoteError(ValueError):
    """A malformed note or key, or a signature that does not verify."""


def key_id(name: str, sig_type: int, public: bytes) -> int:
    return int.from_bytes(hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public).digest()[:4], "big")


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class Verifier:
    name: str
    sig_type: int
    public: bytes
    id: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", key_id(self.name, self.sig_type, self.public))

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.id:08x}+{base64.b64encode(bytes([self.sig_type]) + self.public).decode()}"

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        parts = vkey.strip().split("+", 2)  # base64 may hold '+' itself
        if len(parts) != 3:
            raise NoteError("a verifier key reads <name>+<key id hex>+<base64 key>")
        name, hid, b64 = parts
        _check_name(name)
        try:
            raw = base64.b64decode(b64, validate=True)
            kid = int(hid, 16)
        except ValueError as e:
            raise NoteError(f"verifier key {name}: {e}") from None
        if len(hid) != 8 or len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
            raise NoteError(f"verifier key {name}: expected an Ed25519 key of type 0x01 or 0x04")
        v = cls(name, raw[0], raw[1:])
        if v.id != kid:
            raise NoteError(f"verifier key {name}: key id {hid} does not match the key")
        return v

    def check(self, msg: bytes, sig: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(sig, msg)
            return True
        except InvalidSignature:
            return False


@dataclass(frozen=True)
class Signer:
    name: str
    sig_type: int
    seed: bytes

    @classmethod
    def generate(cls, name: str, sig_type: int = ED25519) -> Signer:
        _check_name(name)
        from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
        seed = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return cls(name, sig_type, seed)

    @classmethod
    def parse(cls, skey: str) -> Signer:
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key reads PRIVATE+KEY+<name>+<key id hex>+<base64 key>")
        _, _, name, hid, b64 = parts
        _check_name(name)
        try:
            raw = base64.b64decode(b64, validate=True)
        except ValueError as e:
            raise NoteError(f"signer key {name}: {e}") from None
        if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
            raise NoteError(f"signer key {name}: expected an Ed25519 seed of type 0x01 or 0x04")
        s = cls(name, raw[0], raw[1:])
        if f"{s.verifier.id:08x}" != hid.lower():
            raise NoteError(f"signer key {name}: key id {hid} does not match the key")
        return s

    @property
    def _key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def verifier(self) -> Verifier:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
        return Verifier(self.name, self.sig_type, self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    @property
    def skey(self) -> str:
        v = self.verifier
        return f"PRIVATE+KEY+{self.name}+{v.id:08x}+{base64.b64encode(bytes([self.sig_type]) + self.seed).decode()}"

    def sign_line(self, text: str, timestamp: int | None = None) -> str:
        """One signature line over a note text: a plain note signature for type 0x01, a
        timestamped cosignature/v1 for type 0x04."""
        kid = struct.pack(">I", self.verifier.id)
        if self.sig_type == COSIGNATURE_V1:
            ts = int(time.time()) if timestamp is None else timestamp
            sig = struct.pack(">Q", ts) + self._key.sign(cosigned_message(text, ts))
        else:
            sig = self._key.sign(text.encode())
        return f"{DASH} {self.name} {base64.b64encode(kid + sig).decode()}\n"


def cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


@dataclass(frozen=True)
class Signature:
    name: str
    id: int
    sig: bytes  # after the key id (a cosignature starts with its 8-byte timestamp)
    line: str


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[Signature, ...]

    def render(self) -> str:
        return self.text + "\n" + "".join(s.line for s in self.signatures)


def parse_signature_line(line: str) -> Signature:
    if not line.startswith(DASH + " "):
        raise NoteError(f"signature line must start with an em dash and a space: {line[:40]!r}")
    parts = line[2:].rstrip("\n").split(" ")
    if len(parts) != 2:
        raise NoteError(f"signature line reads '{DASH} <name> <base64>': {line[:60]!r}")
    name, b64 = parts
    _check_name(name)
    try:
        raw = base64.b64decode(b64, validate=True)
    except ValueError:
        raise NoteError(f"signature of {name} is not base64") from None
    if len(raw) < 5:
        raise NoteError(f"signature of {name} is too short")
    return Signature(name, int.from_bytes(raw[:4], "big"), raw[4:], line if line.endswith("\n") else line + "\n")


def parse_note(data: str | bytes) -> Note:
    """Split a signed note into its text and signature lines (nothing verified yet)."""
    if isinstance(data, bytes):
        try:
            data = data.decode()
        except UnicodeDecodeError:
            raise NoteError("a note must be UTF-8") from None
    if any(ord(c) < 0x20 and c != "\n" for c in data):
        raise NoteError("a note must not hold control characters other than newline")
    cut = data.rfind("\n\n")
    if cut < 0 or not data.endswith("\n"):
        raise NoteError("a note is its text, a blank line, then signature lines")
    text, sigs = data[:cut + 1], data[cut + 2:]
    lines = sigs.splitlines(keepends=True)
    if not lines:
        raise NoteError("the note carries no signature")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the note carries more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(parse_signature_line(x) for x in lines))


def verified_by(note: Note, verifiers: list[Verifier]) -> dict[str, Signature]:
    """The signatures of known keys that verify, by key name. A known key's signature that fails
    makes the whole note fail (signed-note: clients SHOULD reject it); unknown keys are ignored."""
    known = {(v.name, v.id): v for v in verifiers}
    good: dict[str, Signature] = {}
    for s in note.signatures:
        v = known.get((s.name, s.id))
        if v is None:
            continue
        if v.sig_type == COSIGNATURE_V1:
            if len(s.sig) != 72:
                raise NoteError(f"cosignature of {s.name} has the wrong length")
            ts = int.from_bytes(s.sig[:8], "big")
            ok = v.check(cosigned_message(note.text, ts), s.sig[8:])
        else:
            ok = v.check(note.text.encode(), s.sig)
        if not ok:
            raise NoteError(f"signature of {s.name} does not verify: the note was altered or forged")
        good[s.name] = s
    return good


def cosignature_time(sig: Signature) -> int:
    return int.from_bytes(sig.sig[:8], "big")


# -- checkpoints -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        ext = "".join(e + "\n" for e in self.extensions)
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n{ext}"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or any(not x for x in lines[:-1]):
            raise NoteError("a checkpoint reads: origin, tree size, base64 root hash, one per line")
        origin, size, root = lines[0], lines[1], lines[2]
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise NoteError(f"checkpoint tree size {size!r} is not a decimal without leading zeroes")
        try:
            h = base64.b64decode(root, validate=True)
        except ValueError:
            raise NoteError("checkpoint root is not base64") from None
        if len(h) != 32:
            raise NoteError("checkpoint root is not a SHA-256 hash")
        return cls(origin, int(size), h, tuple(lines[3:-1]))


def open_checkpoint(data: str | bytes, log: Verifier, witnesses: list[Verifier] = (), quorum: int = 0
                    ) -> tuple[Checkpoint, Note, dict[str, Signature]]:
    """A signed checkpoint checked against the log's key and at least `quorum` of the witnesses."""
    note = parse_note(data)
    cp = Checkpoint.parse(note.text)
    good = verified_by(note, [log, *witnesses])
    if log.name not in good:
        raise NoteError(f"checkpoint is not signed by the log key {log.name}")
    if cp.origin != log.name:
        raise NoteError(f"checkpoint origin {cp.origin!r} is not the log {log.name!r}")
    cosigners = [w.name for w in witnesses if w.name in good]
    if len(cosigners) < quorum:
        raise NoteError(f"checkpoint carries {len(cosigners)} valid witness cosignature(s) "
                        f"({', '.join(cosigners) or 'none'}); the policy needs {quorum}")
    return cp, note, good
