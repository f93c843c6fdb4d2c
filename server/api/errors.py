"""One JSON error shape for everything: ``{"error": {"code", "message", ...}}``.

Domain errors carry their code; this module only maps them to HTTP statuses. Errors
raised by Flask/werkzeug themselves (404, 405, 413...) and unexpected exceptions get
the same shape; the latter are logged and answered 500 without any detail.
(The single-handler idea follows microblog-api's errors module.)
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from server.api.redact import redact_paths
from server.faces.identity import FaceError
from server.storage.errors import (
    Busy,
    Conflict,
    Invalid,
    NotFound,
    ServiceError,
    StorageFull,
    StorageUnavailable,
    storage_error,
)
from server.vision.image_io import ImageError

log = logging.getLogger(__name__)

_SERVICE_STATUS: tuple[tuple[type[ServiceError], int], ...] = (
    (NotFound, 404),
    (Invalid, 422),
    (Conflict, 409),
    (Busy, 429),
    (StorageFull, 507),
    (StorageUnavailable, 503),
)
_RETRY_STORAGE_S = 30
_RETRY_MEMORY_S = 10
_IMAGE_STATUS = {
    "bad_image": 400,
    "too_large": 413,
    "unsupported_type": 415,
    "animated_image": 415,
    "too_small": 422,
    "extreme_aspect": 422,
    "blank_image": 422,
}
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    431: "headers_too_large",
}


class ApiError(Exception):
    """An HTTP-level refusal raised by a view (malformed request)."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    """The JSON error response; ``extra`` fields (e.g. selfie_index) join the error.

    Absolute paths in ``message`` are cut to their last component."""
    fields = {k: v for k, v in extra.items() if v is not None}
    body = {"code": code, "message": redact_paths(message), **fields}
    response = jsonify({"error": body})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.message, **exc.extra)


def _service_error(exc: ServiceError) -> Response:
    status = next((s for cls, s in _SERVICE_STATUS if isinstance(exc, cls)), 400)
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, Busy) else None
    if isinstance(exc, StorageFull | StorageUnavailable):
        headers = {"Retry-After": str(_RETRY_STORAGE_S)}
    return error_response(status, exc.code, exc.message, headers)


def _os_error(exc: OSError) -> Response:
    """Data-directory write failures get 507/503; anything else is unexpected."""
    problem = storage_error(exc)
    if problem is None:
        return _unexpected(exc)
    log.error("storage: %s (errno %s)", type(problem).__name__, exc.errno)
    return _service_error(problem)


def _image_error(exc: ImageError) -> Response:
    index = getattr(exc, "selfie_index", None)
    return error_response(
        _IMAGE_STATUS.get(exc.code, 400), exc.code, exc.message, selfie_index=index
    )


def _face_error(exc: FaceError) -> Response:
    return error_response(
        422, exc.code, exc.message, selfie_index=exc.selfie_index, reasons=exc.reasons
    )


def _validation_error(exc: ValidationError) -> Response:
    details = [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    return error_response(422, "validation_error", "the request is not valid", details=details)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = _HTTP_CODES.get(status) or (exc.name or "error").lower().replace(" ", "_")
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    return error_response(status, code, exc.description or exc.name, headers)


def _out_of_memory(exc: MemoryError) -> Response:
    """An allocation over the worker's memory cap: the request fails, the worker lives."""
    log.error("out of memory in a request; its allocations are released")
    return error_response(
        503,
        "out_of_memory",
        "no memory left for this request; try again later or send a smaller file",
        {"Retry-After": str(_RETRY_MEMORY_S)},
    )


def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled error: %s", type(exc).__name__)
    return error_response(500, "internal", "internal server error")


def _security_headers(response: Response) -> Response:
    """No response is ever content-sniffed into another type by a browser."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def register_error_handlers(app: Flask) -> None:
    """Route every error the app can raise to the JSON shape above."""
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(ImageError, _image_error)
    app.register_error_handler(FaceError, _face_error)
    app.register_error_handler(ValidationError, _validation_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OSError, _os_error)
    app.register_error_handler(MemoryError, _out_of_memory)
    app.register_error_handler(Exception, _unexpected)
    app.after_request(_security_headers)
