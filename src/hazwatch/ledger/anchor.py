"""Anchoring: publishing checkpoint hashes to an external chain (BSN, FISCO BCOS, 星火·链网).

The witnesses already make the log's history fixed for anyone who trusts one of them. An anchor
adds a public timestamp outside every party's control: each published checkpoint's hash goes
into a transaction on a chain, and the transaction id comes back as a receipt. A verifier who
finds the checkpoint's hash on the chain knows the log had that root no later than that block.

An anchor is anything with `publish`. Hazwatch ships `FileAnchor`, which appends each checkpoint
to a JSON Lines file for a chain client (or an operator) to pick up; a chain client implements
the same method and goes into the list `Ledger` is given.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol

import orjson


class Anchor(Protocol):
    name: str

    def publish(self, origin: str, size: int, root: bytes, checkpoint: str) -> str | None:
        """Record the checkpoint externally; return a receipt (a transaction id) or None. Must not
        block for long: the ledger calls it after each checkpoint it publishes."""


def checkpoint_digest(checkpoint: str) -> str:
    """What goes on a chain: SHA-256 of the whole cosigned checkpoint text."""
    return hashlib.sha256(checkpoint.encode()).hexdigest()


class FileAnchor:
    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def publish(self, origin: str, size: int, root: bytes, checkpoint: str) -> str | None:
        line = orjson.dumps({"origin": origin, "size": size, "root": root.hex(),
                             "sha256": checkpoint_digest(checkpoint), "checkpoint": checkpoint}) + b"\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        return None
