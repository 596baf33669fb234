"""Event bus: stages publish, edges subscribe; in-process for the embedded mode, NATS JetStream
(`hazwatch.bus.jetstream`) for the scale-out mode."""

from hazwatch.bus.base import Bus, Handler
from hazwatch.bus.memory import InProcessBus

__all__ = ["Bus", "Handler", "InProcessBus"]
