"""Writing a benchmark's figures into docs/benchmarks.md, between its own markers."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"


def scratch() -> Path:
    """The ignored folder benchmarks work in (`.hazwatch/`), made on a fresh clone."""
    path = ROOT / ".hazwatch"
    path.mkdir(exist_ok=True)
    return path


def machine() -> str:
    return (f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; "
            f"measured {time.strftime('%Y-%m-%d')}.")


def write_section(name: str, body: str) -> None:
    """Replace the text between `<!-- name:start -->` and `<!-- name:end -->` (or append it)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    section = f"{start}\n{body}\n{end}"
    if start in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    DOC.write_text(text)
