"""The witness's HTTP face: `POST /add-checkpoint` of c2sp.org/tlog-witness, and its public key."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from hazwatch.api.middleware import BodyLimit
from hazwatch.ledger.witness import Witness

MAX_BODY = 64 * 1024


def create_witness_api(witness: Witness) -> FastAPI:
    api = FastAPI(title="Hazwatch witness", openapi_url=None, docs_url=None, redoc_url=None)
    # refused before it is read: a declared length above the limit, or a chunked body at the limit
    api.add_middleware(BodyLimit, default=MAX_BODY, large=MAX_BODY, large_paths=())

    @api.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> PlainTextResponse:
        body = await request.body()
        if len(body) > MAX_BODY:
            return PlainTextResponse(f"request over {MAX_BODY} bytes\n", status_code=413)
        a = witness.add_checkpoint(body)
        return PlainTextResponse(a.body, status_code=a.status, media_type=a.content_type)

    @api.get("/vkey")
    async def vkey() -> PlainTextResponse:
        """The witness's verifier key, for configuring logs and verifiers."""
        return PlainTextResponse(witness.signer.verifier.vkey + "\n")

    return api
