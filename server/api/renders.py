"""/v1/renders: ask for a render, poll it, download the result."""

from __future__ import annotations

from typing import TypeVar

from flask import Blueprint, Response, request, send_file, url_for
from pydantic import BaseModel, ValidationError

from server.api.auth import current_device
from server.api.context import services
from server.api.errors import ApiError
from server.api.schemas import RenderAccepted, RenderCreate, RenderFailure, RenderOut
from server.jobs.records import RenderRecord
from server.jobs.requests import RenderRequest

bp = Blueprint("renders", __name__, url_prefix="/v1/renders")

MAX_JSON_BYTES = 64 * 1024
RESULT_MAX_AGE_S = 3600
M = TypeVar("M", bound=BaseModel)


@bp.post("")
def create_render() -> tuple[dict[str, object], int, dict[str, str]]:
    """202 with the new render's id and status URL.

    ``engine`` (classic | neural | auto) picks the engine; 409 engine_unavailable, with
    the reason, when this server cannot run it. A motion template animates the
    identity's portrait; 409 identity_needs_reupload when the identity has none. An
    identical request (same identities per track, template and its source, format,
    resolved engine and its models) returns the existing render instead: 200 with
    status ``done`` and its ``result_url`` when the result is stored, 202 while it is
    still queued/running.
    """
    body = parse_json(RenderCreate)
    record, _ = services().renders.submit(
        RenderRequest(
            identity_id=body.identity_id,
            template_id=body.template_id,
            format=body.format,
            faces=body.faces or {},
            engine=body.engine,
            device_id=current_device(),
        )
    )
    status_url = url_for("renders.get_render", render_id=record.id)
    accepted = RenderAccepted(
        id=record.id, status=record.status, status_url=status_url, result_url=_result_url(record)
    )
    code = 200 if record.status == "done" else 202
    return accepted.model_dump(mode="json"), code, {"Location": status_url}


@bp.get("/<render_id>")
def get_render(render_id: str) -> dict[str, object]:
    record = services().renders.get(render_id, current_device())
    error = RenderFailure(**record.error.model_dump()) if record.error else None
    out = RenderOut(
        **record.model_dump(exclude={"error"}),
        error=error,
        result_url=_result_url(record),
        status_url=url_for("renders.get_render", render_id=record.id),
    )
    return out.model_dump(mode="json")


@bp.get("/<render_id>/result")
def get_result(render_id: str) -> Response:
    """The GIF / MP4 / WebP; 409 render_not_ready until the render is done, result_missing
    if its file is gone."""
    path, media_type = services().renders.result(render_id, current_device())
    ext = path.suffix
    try:
        response = send_file(
            path, mimetype=media_type, download_name=f"{render_id}{ext}", max_age=RESULT_MAX_AGE_S
        )
    except FileNotFoundError:  # deleted between the lookup and the open
        raise ApiError(404, "render_not_found", f"render {render_id!r} not found") from None
    # A user's face: browsers may keep it, shared caches and CDNs must not.
    response.cache_control.public = False
    response.cache_control.private = True
    return response


def parse_json(model: type[M]) -> M:
    """Validate a JSON object body (of at most MAX_JSON_BYTES) against ``model``.

    The content type is not enforced; a body that is not JSON is a 400 invalid_json,
    one that does not fit the model a 422 validation_error. A body over the limit is a
    413, with or without Content-Length (a chunked one is read one byte past the
    limit, never further, to tell).
    """
    request.max_content_length = MAX_JSON_BYTES + 1
    raw = request.get_data(cache=False)
    if len(raw) > MAX_JSON_BYTES:
        raise ApiError(413, "too_large", f"the body is over {MAX_JSON_BYTES} bytes")
    if not raw.strip():
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
        raise


def _result_url(record: RenderRecord) -> str | None:
    if record.status != "done":
        return None
    return url_for("renders.get_result", render_id=record.id)
