"""Every route an application answers, for the walks that must visit each one (the credential
sweep, the scope walk): a route added without a case fails them."""

from __future__ import annotations

from fastapi.routing import APIRoute, APIWebSocketRoute


def app_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every HTTP operation and ("WS", path) of every WebSocket, sorted,
    including those of routers mounted inside routers."""
    out: set[tuple[str, str]] = set()

    def walk(routes, prefix: str = "") -> None:
        for r in routes:
            if isinstance(r, APIRoute):
                out.update((m, prefix + r.path) for m in r.methods - {"HEAD", "OPTIONS"})
            elif isinstance(r, APIWebSocketRoute):
                out.add(("WS", prefix + r.path))
            inner = getattr(r, "original_router", None)
            if inner is not None:
                walk(inner.routes, prefix + r.include_context.prefix)

    walk(app.routes)
    return sorted(out)
