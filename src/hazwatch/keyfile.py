"""Server-side secrets kept in files beside the data, never in the database: the ledger's
commitment key, the key that wraps devices' batch-signing keys. A dump of the database alone
then opens no commitment and signs no batch. Made on first start (mode 0600); in scale-out mode
every node that needs one is given the same file, like a TLS key."""

from __future__ import annotations

import os
from pathlib import Path


def load_key(path: Path, create: bool) -> bytes | None:
    """The key (hex in the file), made on first start when `create`; None if absent otherwise."""
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return key
