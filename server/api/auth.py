"""Bearer-token authentication: every /v1 request except the template catalogue and
device registration names its device with ``Authorization: Bearer <token>``."""

from __future__ import annotations

from flask import Flask, g, request

from server.api.context import services
from server.api.errors import ApiError

_PUBLIC_PREFIXES = ("/v1/templates",)
_PUBLIC = {("POST", "/v1/devices")}
_UNSET = object()


def token_device() -> str | None:
    """The device named by this request's bearer token (looked up once per request)."""
    found = g.get("faceloop_device", _UNSET)
    if found is _UNSET:
        found = None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            found = services().devices.authenticate(token.strip())
        g.faceloop_device = found
    return found if isinstance(found, str) else None


def current_device() -> str:
    """The authenticated device of this request (the hook below guarantees one)."""
    device = token_device()
    if device is None:
        raise _unauthorized()
    return device


def needs_token(method: str, path: str) -> bool:
    """Every /v1 path but the template catalogue and device registration (the one
    list of public endpoints; the OpenAPI document reads it too)."""
    if not path.startswith("/v1/") or path.startswith(_PUBLIC_PREFIXES):
        return False
    return (method.upper(), path.rstrip("/")) not in _PUBLIC


def _unauthorized() -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        "send a device token as 'Authorization: Bearer <token>' (POST /v1/devices makes one)",
        headers={"WWW-Authenticate": 'Bearer realm="faceloop"'},
    )


def _authenticate() -> None:
    if needs_token(request.method, request.path) and token_device() is None:
        raise _unauthorized()


def register_auth(app: Flask) -> None:
    app.before_request(_authenticate)
