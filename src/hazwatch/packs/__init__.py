"""Application packs: a benchmark application captured once and instantiated per enterprise."""

from hazwatch.packs.fit import Fitted, fit
from hazwatch.packs.library import (
    Pack,
    Upgrade,
    apply,
    enterprise_code,
    find,
    installed,
    load,
    shipped,
    shipped_pack,
    upgrade,
)
from hazwatch.packs.manifest import FORMAT, Manifest, PackError
from hazwatch.packs.render import Rendered, render

__all__ = ["FORMAT", "Fitted", "Manifest", "Pack", "PackError", "Rendered", "Upgrade", "apply", "enterprise_code",
           "find", "fit", "installed", "load", "render", "shipped", "shipped_pack", "upgrade"]
