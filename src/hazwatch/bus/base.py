"""The bus contract. Handlers must be quick and must not raise into the publisher: a slow or
broken subscriber may never hold back ingestion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

Handler = Callable[[str, Any], None]


class Bus(Protocol):
    def publish(self, subject: str, event: Any) -> None: ...

    def subscribe(self, subject: str, handler: Handler) -> Callable[[], None]:
        """Register a handler for a subject ("*" for all); returns a function that unsubscribes."""
        ...

    def has_subscribers(self, subject: str) -> bool: ...
