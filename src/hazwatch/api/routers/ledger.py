"""The ledger over HTTP: the log itself in the C2SP tlog-tiles layout under /ledger/ (public, like
a Certificate Transparency log: entries hold ids and digests, never the records), and proofs and
status under /api/v1."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel

from hazwatch.api.deps import AccessDep, needs
from hazwatch.auth.roles import READ
from hazwatch.domain.errors import NotFound

public = APIRouter(tags=["ledger"])
router = APIRouter(tags=["ledger"])
PUBLIC = {"x-permission": "public"}
# <L> 0..63 or "entries", <N> as x001/x234/067, optional .p/<W> with W 1..255
_TILE = re.compile(r"^(?:[0-9]|[1-5][0-9]|6[0-3]|entries)/(?:x[0-9]{3}/)*[0-9]{3}"
                   r"(?:\.p/(?:[1-9][0-9]?|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$")
PROOF_TYPE = "text/plain; charset=utf-8"


def _dir(request: Request):
    services = request.app.state.services
    if services is None or services.ledger is None:
        raise NotFound("the ledger is turned off on this installation")
    return services.ledger.dir


@public.get("/ledger/checkpoint", response_class=PlainTextResponse, openapi_extra=PUBLIC,
            summary="The newest checkpoint, cosigned by the witness quorum (C2SP tlog-checkpoint)",
            responses={200: {"content": {"text/plain": {}}}, 404: {"description": "nothing published yet"}})
def checkpoint(request: Request) -> Response:
    try:
        text = (_dir(request) / "checkpoint").read_bytes()
    except FileNotFoundError:
        raise NotFound("no checkpoint is published yet: the log is empty or waits for its witnesses") from None
    return Response(text, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-cache, max-age=2"})


@public.get("/ledger/tile/{path:path}", openapi_extra=PUBLIC, response_class=Response,
            summary="A Merkle tree tile or an entry bundle (C2SP tlog-tiles)",
            description="`tile/<L>/<N>[.p/<W>]`: 256 (or W) SHA-256 hashes of level L; "
                        "`tile/entries/<N>[.p/<W>]`: the entries of level-0 tile N, each a big-endian uint16 "
                        "length and the entry's canonical JSON. Immutable.",
            responses={200: {"content": {"application/octet-stream": {}}}})
def tile(path: str, request: Request) -> Response:
    if not _TILE.match(path):
        raise NotFound(f"tile/{path} is not a tile path (tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>])")
    try:
        data = (_dir(request) / "tile" / path).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise NotFound(f"tile/{path} does not exist (yet)") from None
    return Response(data, media_type="application/octet-stream",
                    headers={"Cache-Control": "public, max-age=31536000, immutable"})


class WitnessState(BaseModel):
    name: str
    url: str
    vkey: str
    cosigned_size: int


class LedgerStatus(BaseModel):
    origin: str
    log_vkey: str
    size: int
    published_size: int
    checkpoint: str | None
    quorum: int
    witnesses: list[WitnessState]


@router.get("/ledger/status", response_model=LedgerStatus, openapi_extra=needs(READ),
            summary="The log's size, its newest published checkpoint and its witnesses")
def status(access: AccessDep) -> LedgerStatus:
    return LedgerStatus(**access.ledger.status())


@router.get("/ledger/proof/{index}", response_class=PlainTextResponse, openapi_extra=needs(READ),
            summary="C2SP tlog-proof of one entry under the newest published checkpoint",
            description="The entry travels in the proof's extra line; the record it seals does not (see the "
                        "alarm journal's proof for that).", responses={200: {"content": {"text/plain": {}}}})
def proof(index: Annotated[int, Path(ge=0, le=2**62)], access: AccessDep) -> Response:
    return Response(access.ledger.entry_proof(index), media_type=PROOF_TYPE)


@router.get("/alarms/{alarm_id}/journal/{row}/proof", response_class=PlainTextResponse, openapi_extra=needs(READ),
            summary="C2SP tlog-proof of one alarm transition, the journal row included",
            description="Verify offline with `hazwatch ledger verify --proof FILE --log-vkey ... --witness-vkey ...`.",
            responses={200: {"content": {"text/plain": {}}},
                       409: {"description": "the row is not sealed or not yet under a published checkpoint"}})
def journal_proof(alarm_id: Annotated[int, Path(ge=1, le=2**31)], row: Annotated[int, Path(ge=1, le=2**62)],
                  access: AccessDep) -> Response:
    return Response(access.journal_proof(alarm_id, row), media_type=PROOF_TYPE)
