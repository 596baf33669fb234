"""HTTP and WebSocket edge: parse, call a service, render. No business logic here."""

from hazwatch.api.app import create_api

__all__ = ["create_api"]
