"""The edge gateway: read the plant's OPC UA and Modbus servers, spool, forward to the platform."""

from hazwatch.ingest.edge.config import EdgeConfig
from hazwatch.ingest.edge.gateway import EdgeGateway

__all__ = ["EdgeConfig", "EdgeGateway"]
