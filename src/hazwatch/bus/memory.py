"""In-process bus for the embedded mode: synchronous fan-out to registered handlers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from hazwatch.bus.base import Handler

log = logging.getLogger(__name__)


class InProcessBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._lock = threading.Lock()

    def subscribe(self, subject: str, handler: Handler) -> Callable[[], None]:
        with self._lock:
            self._handlers.setdefault(subject, []).append(handler)

        def unsubscribe() -> None:
            with self._lock:
                handlers = self._handlers.get(subject, [])
                if handler in handlers:
                    handlers.remove(handler)

        return unsubscribe

    def has_subscribers(self, subject: str) -> bool:
        return bool(self._handlers.get(subject) or self._handlers.get("*"))

    def publish(self, subject: str, event: Any) -> None:
        with self._lock:
            handlers = list(self._handlers.get(subject, ())) + list(self._handlers.get("*", ()))
        for h in handlers:
            try:
                h(subject, event)
            except Exception:  # a subscriber's failure is its own
                log.exception("bus handler failed on %s", subject)
