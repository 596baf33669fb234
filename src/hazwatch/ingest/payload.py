"""Telemetry payloads (HTTP now, MQTT later: the same two forms) decoded straight into arrays.

msgspec checks the types in C and names the offending field (`$.value[3]`), and the readings go
from its lists into numpy without a Python object per reading. Row form:
    {"readings": [{"sensor": TAG, "ts": T, "value": V, "quality": "good"}]}
Columnar form:
    {"sensor": [...], "ts": [...], "value": [...], "quality": [...]}
`ts` is epoch seconds (number) or ISO 8601 (naive means UTC); quality defaults to good.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, NamedTuple

import msgspec
import numpy as np

from hazwatch.catalog.index import SensorIndex
from hazwatch.domain.batch import QUALITY_DTYPE, QUALITY_NAMES, TS_DTYPE, US, RawBatch

QualityName = Literal["good", "uncertain", "bad"]
_MAX_S = 1e11  # seconds; about year 5000
_QCODE = {name: code for code, name in enumerate(QUALITY_NAMES)}


class PayloadError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Row(msgspec.Struct, forbid_unknown_fields=True):
    sensor: str
    ts: float | str
    value: float | None
    quality: QualityName = "good"


class Body(msgspec.Struct, forbid_unknown_fields=True):
    readings: list[Row] | None = None
    sensor: list[str] | None = None
    ts: list[float | str] | None = None
    value: list[float | None] | None = None
    quality: list[QualityName] | None = None


_decoder = msgspec.json.Decoder(Body)


def _ts_us(values: list, field: str) -> np.ndarray:
    try:
        seconds = np.asarray(values, np.float64)
    except (TypeError, ValueError):
        pass  # some are ISO strings: the slower, per-item path
    else:  # clipped so that absurd values reach the range checks instead of overflowing
        return np.round(np.clip(seconds, -_MAX_S, _MAX_S) * US).astype(TS_DTYPE)
    out = np.empty(len(values), TS_DTYPE)
    for i, v in enumerate(values):
        if isinstance(v, str):
            try:
                dt = datetime.fromisoformat(v)
            except ValueError:
                raise PayloadError(422, f"`{field.format(i=i)}`: {v!r} is not an ISO 8601 timestamp") from None
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            out[i] = int(dt.timestamp()) * US + dt.microsecond
        else:
            out[i] = round(min(max(v, -_MAX_S), _MAX_S) * US)
    return out


def _values(values: list) -> np.ndarray:
    return np.asarray(values, np.float64)  # None becomes NaN, refused later as non-finite


def _quality(values: list[str] | None, n: int) -> np.ndarray:
    if values is None:
        return np.zeros(n, QUALITY_DTYPE)
    return np.fromiter((_QCODE[q] for q in values), QUALITY_DTYPE, n)


def _document(body: bytes) -> Body:
    try:
        return _decoder.decode(body)
    except msgspec.ValidationError as e:
        raise PayloadError(422, f"invalid telemetry: {e}") from None
    except msgspec.DecodeError as e:
        raise PayloadError(400, f"malformed JSON: {e}") from None


class Columns(NamedTuple):
    tags: list[str]
    ts: list
    values: list
    quality: list[str] | None
    ts_field: str  # how to name a bad timestamp: `$.ts[{i}]` or `$.readings[{i}].ts`


def columns(body: bytes, max_readings: int) -> Columns:
    """The readings as plain lists, checked for shape: the cheap part of decoding, for callers
    that gather many small messages into one batch (MQTT) before building arrays once."""
    return shaped(_document(body), max_readings)


def shaped(doc: Body, max_readings: int) -> Columns:
    """A decoded body's readings as plain lists, checked for shape."""
    sensor, ts, value, quality = doc.sensor, doc.ts, doc.value, doc.quality
    if doc.readings is not None:
        if sensor is not None or ts is not None or value is not None or quality is not None:
            raise PayloadError(422, "give either `readings` (row form) or `sensor`/`ts`/`value` columns, not both")
        rows = doc.readings
        if len(rows) > max_readings:
            raise PayloadError(413, f"{len(rows)} readings in one request; the limit is {max_readings}")
        return Columns([r.sensor for r in rows], [r.ts for r in rows], [r.value for r in rows],
                       [r.quality for r in rows], "$.readings[{i}].ts")
    if sensor is None or ts is None or value is None:
        missing = [f for f, v in (("sensor", sensor), ("ts", ts), ("value", value)) if v is None]
        raise PayloadError(422, "missing field(s) " + ", ".join(f"`$.{m}`" for m in missing)
                           + ": send `readings` rows or `sensor`, `ts` and `value` columns")
    n = len(sensor)
    if len(ts) != n or len(value) != n or (quality is not None and len(quality) != n):
        f, col = next((f, c) for f, c in (("ts", ts), ("value", value), ("quality", quality))
                      if c is not None and len(c) != n)
        raise PayloadError(422, f"`$.{f}` has {len(col)} items but `$.sensor` has {n}")
    if n > max_readings:
        raise PayloadError(413, f"{n} readings in one request; the limit is {max_readings}")
    return Columns(sensor, ts, value, quality, "$.ts[{i}]")


def arrays(c: Columns, index: SensorIndex) -> RawBatch:
    return RawBatch(c.tags, index.lookup(c.tags), _ts_us(c.ts, c.ts_field), _values(c.values),
                    _quality(c.quality, len(c.tags)))


def decode(body: bytes, index: SensorIndex, max_readings: int) -> RawBatch:
    return arrays(columns(body, max_readings), index)
