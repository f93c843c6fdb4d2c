"""/v1/templates: the curated catalog, its details and small previews."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request, send_file, url_for

from server.api.context import services
from server.api.errors import ApiError
from server.api.schemas import (
    FaceTrackOut,
    MotionOut,
    TemplateDetail,
    TemplateFaces,
    TemplatePage,
    TemplateQuery,
    TemplateSummary,
)
from server.gif_templates.motion import describe_motion
from server.jobs.requests import find_template

bp = Blueprint("templates", __name__, url_prefix="/v1/templates")


@bp.get("")
def list_templates() -> dict[str, object]:
    """``?tag=`` and ``?kind=`` filters, ``?limit=&offset=`` pagination; ``next`` links
    the next page."""
    query = TemplateQuery.model_validate(request.args.to_dict())
    matching = list(services().templates.list(tag=query.tag, kind=query.kind))
    page = matching[query.offset : query.offset + query.limit]
    next_offset = query.offset + query.limit
    has_next = next_offset < len(matching)
    next_url = None
    if has_next:
        args: dict[str, Any] = {"limit": query.limit, "offset": next_offset}
        if query.tag:
            args["tag"] = query.tag
        if query.kind:
            args["kind"] = query.kind
        next_url = url_for("templates.list_templates", **args)
    result = TemplatePage(
        items=[summary(t) for t in page],
        total=len(matching),
        limit=query.limit,
        offset=query.offset,
        next_offset=next_offset if has_next else None,
        next=next_url,
    )
    return result.model_dump(mode="json")


@bp.get("/<template_id>")
def get_template(template_id: str) -> dict[str, object]:
    """Manifest plus a summary of the analysed face tracks, or of a motion template's
    motion (frames, timing, loop and how far it moves)."""
    template = find_template(services().templates, template_id)
    if template.kind == "motion":
        return TemplateDetail(
            **summary(template).model_dump(),
            manifest=template.manifest.model_dump(mode="json"),
            faces=TemplateFaces(count=1, main_track=None, tracks=[]),
            motion=MotionOut(**describe_motion(template.motion)),
        ).model_dump(mode="json")
    analysis = template.analysis
    main = analysis.main_track
    main_id = None if main is None else int(main if isinstance(main, int) else main.track_id)
    tracks = [
        FaceTrackOut(track_id=int(t.track_id), main=int(t.track_id) == main_id)
        for t in analysis.tracks
    ]
    detail = TemplateDetail(
        **summary(template).model_dump(),
        manifest=template.manifest.model_dump(mode="json"),
        faces=TemplateFaces(count=len(tracks), main_track=main_id, tracks=tracks),
    )
    return detail.model_dump(mode="json")


@bp.get("/<template_id>/preview")
def get_preview(template_id: str) -> Response:
    """The template's small preview GIF."""
    template = find_template(services().templates, template_id)
    try:
        return send_file(template.preview_path, mimetype="image/gif", max_age=86400)
    except FileNotFoundError:
        raise ApiError(
            404, "preview_not_found", f"template {template_id!r} has no preview"
        ) from None


def summary(template: Any) -> TemplateSummary:
    m = template.manifest
    return TemplateSummary(
        id=m.id,
        kind=m.kind,
        title=m.title,
        tags=list(m.tags),
        width=m.width,
        height=m.height,
        frame_count=m.frame_count,
        duration_ms=m.duration_ms,
        face_count=m.face_count,
        url=url_for("templates.get_template", template_id=m.id),
        preview_url=url_for("templates.get_preview", template_id=m.id),
    )
