"""Event bus: stages publish, edges subscribe; in-process now, NATS JetStream later."""

from hazwatch.bus.base import Bus, Handler
from hazwatch.bus.memory import InProcessBus

__all__ = ["Bus", "Handler", "InProcessBus"]
