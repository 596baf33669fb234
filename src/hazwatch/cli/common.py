"""What the commands share: the installation's settings as a command sees them, and the CLI as
an actor in the audit log. Every command module imports this one, never `cli.main`."""

from __future__ import annotations

import os
from pathlib import Path

from hazwatch.settings import Settings


def settings_for(data_dir: Path | None, **overrides) -> Settings:
    """The environment's settings (HAZWATCH_*), with the options a command was given on top."""
    s = Settings()
    if data_dir is not None:
        s.data_dir = data_dir
    for k, v in overrides.items():
        if v is not None:
            setattr(s, k, v)
    return s


def catalog_audit():
    """The hook that records each created or changed catalog item in the audit log as the CLI's."""
    from hazwatch.auth.audit import CatalogAudit

    return CatalogAudit(cli_actor())


def cli_actor():
    from hazwatch.auth import Actor

    try:
        who = os.getlogin()
    except OSError:
        who = os.environ.get("USER", "?")
    return Actor(f"cli:{who}", "admin", "local")
