"""The published OpenAPI document: FastAPI's, with one error shape for every refusal.

Every error answer is `{"detail": "<what was wrong>"}`; request validation adds `errors` (each
failed field) and a refused catalog adds `problems`. The standard refusals (401, 403, 404, 413,
429) are documented on every operation they can come from, so a client generated from the document
knows them."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "what was wrong, naming the field or object"},
        "errors": {"type": "array", "items": {"type": "object"}, "description": "each failed field (422)"},
        "problems": {"type": "array", "items": {"type": "string"}, "description": "why a catalog was refused"},
    },
}
_REF = {"$ref": "#/components/schemas/Error"}
_STANDARD = {
    "401": "missing, invalid, expired or revoked token",
    "403": "the caller's role lacks the operation's permission (x-permission)",
    "404": "not found, or outside the caller's scope",
    "413": "request body too large",
    "422": "a parameter or field is invalid; `detail` names it",
    "429": "rate limit or login back-off; see Retry-After",
}


def _replace_refs(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get("$ref") == "#/components/schemas/HTTPValidationError":
            return dict(_REF)
        return {k: _replace_refs(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_refs(v) for v in node]
    return node


def build_openapi(api: FastAPI) -> dict:
    doc = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
    doc = _replace_refs(doc)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ERROR
    for path, ops in doc.get("paths", {}).items():
        for method, op in ops.items():
            if op.get("x-permission") in (None, "public"):
                wanted = ["413", "422", "429"] if method == "post" else []
            else:
                wanted = ["401", "403", "413", "429"] + (["404"] if "{" in path else [])
                wanted += ["422"] if method == "post" or op.get("parameters") else []
            responses = op.setdefault("responses", {})
            for code in wanted:
                entry = responses.setdefault(code, {"description": _STANDARD[code]})
                entry.setdefault("content", {"application/json": {"schema": dict(_REF)}})
    return doc
