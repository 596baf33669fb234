"""Telemetry on the partition subjects: one message per partition per accepted request, the
columns as little-endian arrays after a 4-byte count (no JSON, no per-reading objects); a device's
online/offline status is a small JSON message beside them (header Hz-Kind: status)."""

from __future__ import annotations

import numpy as np
import orjson

from hazwatch.domain.batch import QUALITY_DTYPE, SENSOR_DTYPE, TS_DTYPE, VALUE_DTYPE

KIND = "Hz-Kind"
READINGS, STATUS = "readings", "status"
_COLUMNS = (("sensor", np.dtype(SENSOR_DTYPE).newbyteorder("<")), ("ts", np.dtype(TS_DTYPE).newbyteorder("<")),
            ("value", np.dtype(VALUE_DTYPE).newbyteorder("<")), ("quality", np.dtype(QUALITY_DTYPE).newbyteorder("<")))
_ROW = sum(d.itemsize for _, d in _COLUMNS)


class WireError(ValueError):
    pass


def encode_readings(sensor: np.ndarray, ts: np.ndarray, value: np.ndarray, quality: np.ndarray) -> bytes:
    n = len(sensor)
    parts = [np.uint32(n).astype("<u4").tobytes()]
    parts += [np.ascontiguousarray(col, dtype=dt).tobytes() for col, (_, dt) in zip((sensor, ts, value, quality),
                                                                                      _COLUMNS, strict=True)]
    return b"".join(parts)


def decode_readings(data: bytes) -> dict[str, np.ndarray]:
    if len(data) < 4:
        raise WireError("telemetry message shorter than its header")
    n = int(np.frombuffer(data, "<u4", 1)[0])
    if len(data) != 4 + n * _ROW:
        raise WireError(f"telemetry message of {len(data)} bytes does not hold {n} readings")
    out, at = {}, 4
    for name, dt in _COLUMNS:
        out[name] = np.frombuffer(data, dt, n, at).astype(dt.newbyteorder("="))
        at += n * dt.itemsize
    return out


def encode_status(device: str, online: bool, at_us: int) -> bytes:
    return orjson.dumps({"device": device, "online": online, "at": at_us})


def decode_status(data: bytes) -> tuple[str, bool, int]:
    try:
        d = orjson.loads(data)
        return str(d["device"]), bool(d["online"]), int(d["at"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise WireError("not a device status message") from None
