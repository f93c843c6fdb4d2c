"""/v1/verify: was an uploaded GIF / MP4 / WebP made by this service? Views only
translate HTTP; the reading is :mod:`server.render.verify`."""

from __future__ import annotations

import dataclasses

from flask import Blueprint, request

from server.api.auth import current_device
from server.api.context import services
from server.api.errors import ApiError
from server.api.schemas import VerifyOut
from server.vision.image_io import ImageError

bp = Blueprint("verify", __name__, url_prefix="/v1/verify")

FILE_FIELD = "file"


@bp.post("")
def verify() -> dict[str, object]:
    """multipart/form-data with one file in ``file``; 200 with the verdict (the render
    id only when the calling device owns that render)."""
    files = request.files.getlist(FILE_FIELD)
    if len(files) != 1:
        raise ApiError(
            400, "missing_file", f"send one GIF, MP4 or WebP as multipart field '{FILE_FIELD}'"
        )
    limit = services().settings.max_upload_bytes
    data = files[0].stream.read(limit + 1)
    if not data:
        raise ApiError(400, "empty_file", "the file is empty")
    if len(data) > limit:
        raise ImageError("too_large", f"over {limit} bytes")
    verdict = services().verifier.verify(data, current_device())
    return VerifyOut.model_validate(dataclasses.asdict(verdict)).model_dump(mode="json")
