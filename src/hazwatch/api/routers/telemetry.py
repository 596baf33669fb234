"""POST /api/v1/telemetry: the raw body goes straight to the columnar decoder (no Pydantic per reading)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request

from hazwatch.api.deps import AccessDep, needs
from hazwatch.api.responses import JSON
from hazwatch.auth.roles import TELEMETRY_WRITE
from hazwatch.auth.signing import SEQUENCE_HEADER, SIGNATURE_HEADER
from hazwatch.ingest.payload import PayloadError

router = APIRouter(tags=["telemetry"])

_READING = {
    "type": "object", "required": ["sensor", "ts", "value"], "additionalProperties": False,
    "properties": {
        "sensor": {"type": "string", "description": "tag number"},
        "ts": {"oneOf": [{"type": "number", "description": "epoch seconds"},
                         {"type": "string", "format": "date-time", "description": "ISO 8601, naive = UTC"}]},
        "value": {"type": ["number", "null"]},
        "quality": {"enum": ["good", "uncertain", "bad"], "default": "good"},
    },
}
_BODY = {
    "oneOf": [
        {"title": "Rows", "type": "object", "required": ["readings"], "additionalProperties": False,
         "properties": {"readings": {"type": "array", "items": _READING}}},
        {"title": "Columns", "type": "object", "required": ["sensor", "ts", "value"], "additionalProperties": False,
         "properties": {
             "sensor": {"type": "array", "items": {"type": "string"}},
             "ts": {"type": "array", "items": _READING["properties"]["ts"]},
             "value": {"type": "array", "items": {"type": ["number", "null"]}},
             "quality": {"type": "array", "items": {"enum": ["good", "uncertain", "bad"]}}}},
    ]
}
_ANSWER = {
    "type": "object", "required": ["accepted", "rejected"],
    "properties": {
        "accepted": {"type": "integer"},
        "rejected": {"type": "array", "items": {
            "type": "object", "required": ["index", "sensor", "reason"],
            "properties": {"index": {"type": "integer"}, "sensor": {"type": "string"},
                           "reason": {"type": "string"}}}},
    },
}


@router.post(
    "/telemetry",
    summary="Ingest readings (row or columnar form)",
    description="Accepted readings are durable before the answer. Readings that fail a check are listed in "
                "`rejected` with their position and reason; the rest of the batch is stored. Sensors outside "
                "the caller's scope read as unknown; a device secret may write only its own device's sensors.",
    openapi_extra=needs(TELEMETRY_WRITE, **{
        "requestBody": {"required": True, "content": {"application/json": {"schema": _BODY}}},
        "responses": {
            "200": {"description": "stored", "content": {"application/json": {"schema": _ANSWER}}},
            "400": {"description": "malformed JSON"},
            "413": {"description": "batch larger than the configured limit"},
            "401": {"description": "a device batch whose signature does not match (forged or altered), or "
                                   "unsigned where signing is required"},
            "409": {"description": "a replayed device batch: its sequence is not above the last accepted"},
            "422": {"description": "a field has the wrong type or is missing; the message names it"},
        },
        "parameters": [
            {"name": SEQUENCE_HEADER, "in": "header", "required": False,
             "schema": {"type": "integer", "minimum": 0},
             "description": "signed device batches: a number that grows with every batch"},
            {"name": SIGNATURE_HEADER, "in": "header", "required": False, "schema": {"type": "string"},
             "description": "hex HMAC-SHA256 of `<sequence>\\n<body>` keyed with SHA-256(device secret)"},
        ],
    }),
)
async def ingest(request: Request, access: AccessDep) -> JSON:
    body = await request.body()  # its size was checked by the BodyLimit middleware (HAZWATCH_MAX_BODY_BYTES)
    try:
        raw, seq = access.telemetry_batch(body, request.headers)
    except PayloadError as e:
        raise HTTPException(e.status, e.message) from None
    result = await asyncio.wrap_future(access.ingest(raw))
    access.batch_accepted(seq)
    return JSON({
        "accepted": result.accepted,
        "rejected": [{"index": r.index, "sensor": r.sensor, "reason": r.reason} for r in result.rejected],
    })
