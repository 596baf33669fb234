"""Copy a tiled log over HTTP into a folder with the same layout, for offline verification."""

from __future__ import annotations

from pathlib import Path

import httpx

from hazwatch.ledger.note import Checkpoint, parse_note
from hazwatch.ledger.tiles import WIDTH, bundle_path, decode_bundle, encode_bundle, tile_path


def _fetch(client: httpx.Client, prefix: str, rel: str) -> bytes:
    """One file of the log. A partial tile the log has removed (it grew past the checkpoint this
    mirror follows) is cut from its full tile, as tlog-tiles tells clients to."""
    r = client.get(f"{prefix}/{rel}")
    if r.status_code == 404 and ".p/" in rel:
        path, width = rel.split(".p/")
        full = client.get(f"{prefix}/{path}")
        full.raise_for_status()
        w = int(width)
        return encode_bundle(decode_bundle(full.content)[:w]) if "/entries/" in rel else full.content[:32 * w]
    r.raise_for_status()
    return r.content


def mirror(prefix: str, directory: Path, timeout_s: float = 30.0, client: httpx.Client | None = None
           ) -> tuple[int, int]:
    """(tree size, files written). The checkpoint is written last, so a folder with a checkpoint
    holds everything it needs."""
    if client is None:
        with httpx.Client(timeout=timeout_s) as own:
            return _mirror(prefix.rstrip("/"), Path(directory), own)
    return _mirror(prefix.rstrip("/"), Path(directory), client)


def _mirror(prefix: str, d: Path, client: httpx.Client) -> tuple[int, int]:
    r = client.get(f"{prefix}/checkpoint")
    r.raise_for_status()
    text = r.text
    size = Checkpoint.parse(parse_note(text).text).size
    paths = []
    level, count = 0, size
    while count > 0:
        full, w = divmod(count, WIDTH)
        paths += [tile_path(level, n) for n in range(full)]
        if w:
            paths.append(tile_path(level, full, w))
        if level == 0:
            paths += [bundle_path(n) for n in range(full)] + ([bundle_path(full, w)] if w else [])
        count //= WIDTH
        level += 1
    written = 0
    for rel in paths:
        target = d / rel
        if ".p/" not in rel and target.exists():
            continue  # full tiles are immutable: a mirror refreshes only what grew
        data = _fetch(client, prefix, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written += 1
    (d / "checkpoint").write_text(text)
    return size, written + 1
