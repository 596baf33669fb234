"""Application packs: a benchmark application captured once and instantiated per enterprise."""

from hazwatch.packs.library import Pack, apply, enterprise_code, find, load, shipped
from hazwatch.packs.manifest import FORMAT, Manifest, PackError
from hazwatch.packs.render import Rendered, render

__all__ = ["FORMAT", "Manifest", "Pack", "PackError", "Rendered", "apply", "enterprise_code", "find", "load", "render",
           "shipped"]
