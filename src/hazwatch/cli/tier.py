"""`hazwatch tier`: link a regulator's NATS server to the parks below it."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

tier_app = typer.Typer(help="Tiers: what parks send up to their regulator (docs/scale.md).", no_args_is_help=True)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@tier_app.command("link")
def link(domain: Annotated[str, typer.Option(help="the park's JetStream domain (its leaf server's "
                                                  "jetstream { domain: ... })")],
         park: Annotated[str | None, typer.Option(help="the park's org code at this regulator: what arrives "
                                                      "through this link is filed under it (default: the "
                                                      "domain)")] = None,
         nats_url: Annotated[str, typer.Option(envvar="HAZWATCH_TIER_NATS_URL",
                                               help="the regulator's NATS server")] = "nats://127.0.0.1:4222") -> None:
    """Source a park's HZ_UP stream into a stream of its own at this regulator, HZ_TIER_<park>
    (idempotent; run once per park). The park is who the link says, never what its messages say."""
    from hazwatch.scale import tiers

    for what, value in (("domain", domain), ("park", park or domain)):
        if not value.replace("-", "").replace("_", "").isalnum():
            err.print(f"[red]{what} {value!r}: letters, digits, - and _ only[/]")
            raise typer.Exit(2)
    try:
        linked = asyncio.run(tiers.link(nats_url, domain, park))
    except Exception as e:  # noqa: BLE001 - a connection or JetStream error, told as it is
        err.print(f"[red]cannot link at {nats_url}:[/] {e}")
        raise typer.Exit(1) from None
    console.print(f"the parks linked at {nats_url}, each through its own link: {', '.join(linked)}")
