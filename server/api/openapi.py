"""The OpenAPI 3.1 document: schemas generated from the pydantic models, paths from a
small table below (kept in step with the url_map by a test)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from flask import Blueprint
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from server.api import schemas as s
from server.api.auth import needs_token

bp = Blueprint("openapi", __name__)

_REF = "#/components/schemas/{model}"
_ID_PARAM = {
    "identity_id": "Identity id (idt_...).",
    "render_id": "Render id (rnd_...).",
    "template_id": "Template id (a slug).",
}


@dataclass(frozen=True)
class Op:
    """One operation: ``responses`` maps status to a model, a media type or None."""

    method: str
    path: str
    summary: str
    responses: dict[int, type[BaseModel] | str | None]
    body: type[BaseModel] | str | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = field(default=())


OPERATIONS: tuple[Op, ...] = (
    Op("get", "/healthz", "Liveness probe", {200: s.Health}),
    Op("get", "/readyz", "Readiness probe (503 until ready)", {200: s.Readiness, 503: s.Readiness}),
    Op("get", "/openapi.json", "This document", {200: "application/json"}),
    Op(
        "post",
        "/v1/devices",
        "Register a device: its id and bearer token (256 random bits, shown once)",
        {201: s.DeviceCreated},
    ),
    Op(
        "delete",
        "/v1/devices/me",
        "Erase this device: its identities, renders, results and token",
        {204: None},
    ),
    Op(
        "post",
        "/v1/identities",
        "Create an identity from 1-5 selfies (JPEG/PNG/WebP) and the consent field; "
        "422 consent_required (nothing decoded) without it; each selfie's coaching "
        "findings are in quality.warnings; 422 selfie_unsuitable (with error.reasons) when "
        "no selfie can be the face texture",
        {201: s.IdentityOut},
        body="multipart/form-data",
        errors=(400, 413, 415, 422, 503, 507),
    ),
    Op(
        "get",
        "/v1/identities/{identity_id}",
        "Read an identity",
        {200: s.IdentityOut},
        errors=(404,),
    ),
    Op(
        "delete",
        "/v1/identities/{identity_id}",
        "Delete an identity and its renders",
        {204: None},
        errors=(404,),
    ),
    Op(
        "get",
        "/v1/templates",
        "List templates (tag and kind filters, limit/offset pagination)",
        {200: s.TemplatePage},
        query=s.TemplateQuery,
        errors=(422,),
    ),
    Op(
        "get",
        "/v1/templates/{template_id}",
        "Template manifest and face tracks, or a motion template's motion",
        {200: s.TemplateDetail},
        errors=(404,),
    ),
    Op(
        "get",
        "/v1/templates/{template_id}/preview",
        "Small preview GIF",
        {200: "image/gif"},
        errors=(404,),
    ),
    Op(
        "post",
        "/v1/renders",
        "Queue a render (202); an identical request with a stored result answers 200 with "
        "the same id and status done. A motion template animates the identity's portrait; "
        "409 identity_needs_reupload for identities made before portraits were kept",
        {202: s.RenderAccepted, 200: s.RenderAccepted},
        body=s.RenderCreate,
        errors=(400, 404, 409, 413, 422, 429),
    ),
    Op(
        "get",
        "/v1/renders/{render_id}",
        "Render status and progress",
        {200: s.RenderOut},
        errors=(404,),
    ),
    Op(
        "get",
        "/v1/renders/{render_id}/result",
        "The rendered GIF / MP4 / WebP (409 until done)",
        {200: "image/gif"},
        errors=(404, 409),
    ),
    Op(
        "post",
        "/v1/verify",
        "Was this GIF / MP4 / WebP (multipart field 'file') made by this service, and by "
        "which render? Read from the invisible watermark (survives re-encoding, scaling "
        "and trimming) and any C2PA credentials still attached",
        {200: s.VerifyOut},
        body="multipart/form-data",
        errors=(400, 413, 415),
    ),
)
_MODELS: tuple[type[BaseModel], ...] = (
    s.ErrorResponse,
    s.DeviceCreated,
    s.Health,
    s.Readiness,
    s.IdentityOut,
    s.TemplatePage,
    s.TemplateDetail,
    s.RenderCreate,
    s.RenderAccepted,
    s.RenderOut,
    s.VerifyOut,
)
_RESULT_TYPES = ("image/gif", "video/mp4", "image/webp")


@cache
def openapi_document() -> dict[str, Any]:
    """Build (once) the whole document."""
    _, defs = models_json_schema(
        [(m, "validation" if m is s.RenderCreate else "serialization") for m in _MODELS],
        ref_template=_REF,
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Faceloop API",
            "version": "1.0.0",
            "description": "Upload selfies, pick a GIF template, get it back with your face. "
            'Every error is {"error": {"code", "message"}}. Every /v1 call except the '
            "template catalogue and POST /v1/devices needs the device's bearer token (401 "
            "unauthorized without it); another device's ids answer 404 like unknown ones; "
            "every /v1 call is rate-limited per device and per client address (429 "
            "rate_limited with Retry-After).",
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "device": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The token from POST /v1/devices.",
                }
            },
        },
    }


def _operation(op: Op) -> dict[str, Any]:
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": re.sub(r"[^A-Za-z0-9]+", "_", f"{op.method}{op.path}").strip("_"),
        "responses": {str(code): _response(target) for code, target in op.responses.items()},
    }
    params = [_path_param(name) for name in _ID_PARAM if "{" + name + "}" in op.path]
    if op.query is not None:
        params += _query_params(op.query)
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": _body(op.body)}
    errors = set(op.errors)
    if op.path.startswith("/v1/"):
        errors.add(429)
    if needs_token(op.method, op.path):
        out["security"] = [{"device": []}]
        errors.add(401)
    for code in sorted(errors):
        error: dict[str, Any] = {
            "description": "Error",
            "content": {
                "application/json": {"schema": {"$ref": _REF.format(model="ErrorResponse")}}
            },
        }
        if code == 429:
            error["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        if code == 401:
            error["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        out["responses"][str(code)] = error
    return out


def _response(target: type[BaseModel] | str | None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": "No content" if target is None else "OK"}
    if isinstance(target, str):
        types = _RESULT_TYPES if target == "image/gif" else (target,)
        response["content"] = {t: {"schema": {"type": "string", "format": "binary"}} for t in types}
    elif target is not None:
        response["content"] = {
            "application/json": {"schema": {"$ref": _REF.format(model=target.__name__)}}
        }
    return response


def _body(body: type[BaseModel] | str) -> dict[str, Any]:
    if isinstance(body, str):
        files = {
            "type": "array",
            "minItems": 1,
            "maxItems": 5,
            "items": {"type": "string", "format": "binary"},
        }
        return {
            body: {
                "schema": {
                    "type": "object",
                    "required": ["selfies", "consent"],
                    "properties": {
                        "selfies": files,
                        "consent": {
                            "type": "string",
                            "enum": ["true", "yes", "1"],
                            "description": "The person in the selfies is the user and agrees "
                            "to the processing of their face (recorded with time and policy "
                            "version).",
                        },
                    },
                }
            }
        }
    return {"application/json": {"schema": {"$ref": _REF.format(model=body.__name__)}}}


def _path_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": _ID_PARAM[name],
        "schema": {"type": "string"},
    }


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    return [
        {"name": name, "in": "query", "required": False, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


@bp.get("/openapi.json")
def openapi_json() -> dict[str, Any]:
    return openapi_document()
