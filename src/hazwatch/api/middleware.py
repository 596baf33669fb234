"""Plain ASGI middleware (no per-request task or body copy, so the ingest path stays fast):
security headers on every answer, request size limits, and per-credential rate limits."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

import orjson

_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


async def _answer(send, status: int, detail: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = orjson.dumps({"detail": detail})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *_HEADERS, *headers]})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        https = scope.get("scheme") == "https"

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", ())}
                extra = [h for h in _HEADERS if h[0] not in present]
                if https:
                    extra.append(_HSTS)
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """413 for bodies above the limit. A Content-Length is checked before anything is read (the
    server holds the body to that length); a chunked body is read ahead up to the limit and then
    replayed, so the handler never sees a truncated body. Paths in `large_paths` (bulk uploads:
    telemetry, catalog) get `large`, the rest `default`."""

    def __init__(self, app, default: int, large: int, large_paths: tuple[str, ...]) -> None:
        self.app, self.default, self.large, self.large_paths = app, default, large, large_paths

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.large if scope["path"].startswith(self.large_paths) else self.default
        length = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if length is not None:
            if not length.isdigit() or int(length) > limit:
                return await _answer(send, 413, f"request body of {length.decode(errors='replace')} bytes; "
                                                f"the limit for {scope['path']} is {limit} bytes")
            return await self.app(scope, receive, send)
        if scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            return await self.app(scope, receive, send)
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                return await _answer(send, 413, f"request body above the limit of {limit} bytes for {scope['path']}")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replayed():
            return replay.pop() if replay else await receive()

        await self.app(scope, replayed, send)


class RateLimit:
    """Token buckets: one per authenticated principal (a user or a device, whatever key or token it
    uses), or per client address for anything else; and a stricter one per client address for
    `strict_paths` (the login, whose password hash costs ~50 ms of CPU by design). A made-up bearer
    value is no principal: it shares its address's bucket instead of getting a fresh one. Cheap
    enough to sit in front of the ingest path: `principal_of` answers from the credential cache
    (no I/O), then a dict lookup and some arithmetic."""

    def __init__(self, app, rate: float, burst: int, strict_paths: tuple[str, ...] = (), strict_rate: float = 5.0,
                 strict_burst: int = 20, exempt: tuple[str, ...] = ("/healthz", "/readyz"),
                 principal_of: Callable[[str], str | None] | None = None) -> None:
        self.app, self.exempt, self.strict_paths = app, exempt, strict_paths
        self.principal_of = principal_of
        self.limits = {False: (rate, float(burst)), True: (strict_rate, float(strict_burst))}
        self._buckets: dict[tuple[bool, bytes], tuple[float, float]] = {}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            return await self.app(scope, receive, send)
        strict = scope["path"] in self.strict_paths
        rate, burst = self.limits[strict]
        if rate <= 0:
            return await self.app(scope, receive, send)
        key = None
        if not strict and self.principal_of is not None:
            header = next((v for k, v in scope.get("headers", ()) if k == b"authorization"), b"")
            if header[:7].lower() == b"bearer ":
                who = self.principal_of(header[7:].decode("latin-1").strip())
                key = who.encode() if who else None
        if key is None:
            client = scope.get("client")
            key = b"@" + (client[0] if client else "?").encode()
        now = time.monotonic()
        tokens, last = self._buckets.get((strict, key), (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens < 1.0:
            self._buckets[(strict, key)] = (tokens, now)
            wait = (1.0 - tokens) / rate
            return await _answer(send, 429, f"rate limit of {rate:g} requests/s (burst {burst:g}) "
                                            f"exceeded; retry in {wait:.2f} s",
                                 [(b"retry-after", str(max(1, math.ceil(wait))).encode())])
        self._buckets[(strict, key)] = (tokens - 1.0, now)
        if len(self._buckets) > 100_000:
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
        await self.app(scope, receive, send)
