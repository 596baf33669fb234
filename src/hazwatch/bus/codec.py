"""Events on the wire: a remote bus carries the same event types as the in-process one, as JSON
with a type tag. A stored batch travels columnar (arrays, never one object per reading)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import orjson

from hazwatch.domain.batch import ReadingBatch
from hazwatch.domain.events import AlarmChanged, IncidentChanged, ReadingsStored

_TYPES = {t.__name__: t for t in (AlarmChanged, IncidentChanged, ReadingsStored)}


class CodecError(ValueError):
    pass


def encode(event: Any) -> bytes:
    if isinstance(event, ReadingsStored):
        b = event.batch
        body = {"sensor": b.sensor, "ts": b.ts, "value": b.value, "quality": b.quality}
    elif type(event).__name__ in _TYPES:
        body = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    else:  # plain JSON events (dicts, lists, numbers, strings)
        return orjson.dumps({"t": None, "d": event}, option=orjson.OPT_SERIALIZE_NUMPY)
    return orjson.dumps({"t": type(event).__name__, "d": body}, option=orjson.OPT_SERIALIZE_NUMPY)


def decode(data: bytes) -> Any:
    try:
        msg = orjson.loads(data)
        kind, body = msg["t"], msg["d"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise CodecError("not an event of this bus") from None
    if kind is None:
        return body
    if kind == "ReadingsStored":
        return ReadingsStored(ReadingBatch.of(np.asarray(body["sensor"]), np.asarray(body["ts"]),
                                              np.asarray(body["value"], float), np.asarray(body["quality"])))
    if kind not in _TYPES:
        raise CodecError(f"unknown event type {kind!r}")
    return _TYPES[kind](**body)
