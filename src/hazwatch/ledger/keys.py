"""Key files: one signer key per file, in the note text encoding, readable by its owner only."""

from __future__ import annotations

import os
from pathlib import Path

from hazwatch.ledger.note import ED25519, NoteError, Signer, Verifier
from hazwatch.ledger.witness import WitnessClient


def write_signer(path: Path, signer: Signer) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(signer.skey + "\n")


def load_signer(path: Path, create_as: str | None = None, sig_type: int = ED25519) -> Signer:
    """The key in `path`; made there first (named `create_as`) when the file does not exist yet."""
    path = Path(path)
    if not path.exists():
        if create_as is None:
            raise NoteError(f"key file {path} does not exist")
        write_signer(path, Signer.generate(create_as, sig_type))
    return Signer.parse(path.read_text())


def read_vkey(value: str) -> Verifier:
    """A verifier key given inline, or the path of a file holding one."""
    p = Path(value)
    if "+" not in value or (len(value) < 4096 and p.is_file()):
        try:
            value = p.read_text()
        except OSError:
            raise NoteError(f"{value!r} is neither a verifier key (<name>+<id>+<key>) nor a readable file") from None
    return Verifier.parse(value)


def parse_witness(spec: str) -> WitnessClient:
    """ "<url> <verifier key>" as in HAZWATCH_LEDGER_WITNESSES."""
    parts = spec.split()
    if len(parts) != 2 or not parts[0].startswith(("http://", "https://")):
        raise NoteError(f"a witness reads '<http(s) url> <verifier key>', not {spec!r}")
    return WitnessClient(parts[0], Verifier.parse(parts[1]))
