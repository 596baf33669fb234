"""`edge.yaml`: what the gateway reads, where it forwards, and how much it may hold.

    uplink:
      url: https://platform.example:8443     # the platform's HTTP API, or mqtt://broker:1883 with
                                             # enterprise, device and credential (the secret's id)
      secret_env: HAZWATCH_EDGE_SECRET       # or `secret:`; the gateway's device secret
      timeout_s: 10
    spool:
      dir: /var/lib/hazwatch-edge
      max_bytes: 1073741824                  # 1 GiB
      policy: drop_oldest                    # or refuse: stop reading the field when full
    opcua:
      - endpoint: opc.tcp://10.0.3.7:4840
        nodes: {"ns=2;s=TK103.LT": TK103-LT}
    modbus:
      devices: [...]                         # as HAZWATCH_MODBUS_CONFIG
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hazwatch.ingest.modbus import ModbusConfig


class Uplink(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(pattern=r"^(https?|mqtts?)://", description="the platform's HTTP API, or its MQTT broker")
    enterprise: str | None = Field(None, description="MQTT: the topic's enterprise code")
    device: str | None = Field(None, description="MQTT: the gateway's device code (topic and broker user name)")
    credential: int | None = Field(None, description="MQTT: the id of the device secret, named in each batch")
    secret: str | None = None
    secret_env: str | None = None
    timeout_s: float = Field(10.0, gt=0)
    max_backoff_s: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _one_secret(self) -> Uplink:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError("give the device secret as `secret` or name it with `secret_env`, one of the two")
        if self.mqtt and None in (self.enterprise, self.device, self.credential):
            raise ValueError("an MQTT uplink needs `enterprise`, `device` and `credential` (the secret's id)")
        return self

    @property
    def mqtt(self) -> bool:
        return self.url.startswith("mqtt")

    def device_secret(self) -> str:
        if self.secret is not None:
            return self.secret
        value = os.environ.get(self.secret_env or "")
        if not value:
            raise ValueError(f"uplink.secret_env: environment variable {self.secret_env} is not set")
        return value


class SpoolConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dir: Path
    max_bytes: int = Field(1 << 30, gt=0)
    policy: Literal["drop_oldest", "refuse"] = "drop_oldest"


class OpcUaSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: str = Field(pattern=r"^opc\.tcp://")
    nodes: dict[str, str] = Field(description="node id -> sensor tag")


class EdgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uplink: Uplink
    spool: SpoolConfig
    opcua: list[OpcUaSource] = []
    modbus: ModbusConfig | None = None

    @classmethod
    def load(cls, path: Path) -> EdgeConfig:
        return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
