"""/v1/identities: upload selfies, read, delete. Views only translate HTTP."""

from __future__ import annotations

from flask import Blueprint, Request, Response, request, url_for

from server.api.auth import current_device
from server.api.context import services
from server.api.errors import ApiError
from server.api.schemas import IdentityOut
from server.identities import SelfieError
from server.vision.image_io import ImageError

bp = Blueprint("identities", __name__, url_prefix="/v1/identities")

SELFIES_FIELD = "selfies"
CONSENT_FIELD = "consent"
CONSENT_VALUES = frozenset({"true", "yes", "1"})


@bp.post("")
def create_identity() -> tuple[dict[str, object], int, dict[str, str]]:
    """multipart/form-data with 1-5 files in ``selfies`` and ``consent``; 201 with the
    identity. Without consent nothing is read further: 422 consent_required."""
    require_consent(request)
    uploads = read_selfies(request)
    meta = services().identities.create(uploads, current_device(), consented=True)
    body = IdentityOut.model_validate(meta).model_dump(mode="json")
    location = url_for("identities.get_identity", identity_id=body["id"])
    return body, 201, {"Location": location}


@bp.get("/<identity_id>")
def get_identity(identity_id: str) -> dict[str, object]:
    meta = services().identities.get(identity_id, current_device())
    return IdentityOut.model_validate(meta).model_dump(mode="json")


@bp.delete("/<identity_id>")
def delete_identity(identity_id: str) -> Response:
    """Deletes the identity and every render made from it; 204."""
    services().identities.delete(identity_id, current_device())
    return Response(status=204)


def require_consent(req: Request) -> None:
    """The user states that the selfies show them and that they agree to face processing."""
    value = req.form.get(CONSENT_FIELD, "")
    if value.strip().lower() not in CONSENT_VALUES:
        raise ApiError(
            422,
            "consent_required",
            f"send the form field '{CONSENT_FIELD}' = true: the selfies show you and you agree "
            f"to the processing of your face (policy {services().settings.consent_policy})",
        )


def read_selfies(req: Request) -> list[bytes]:
    """The uploaded files' bytes, with clear 400s for missing, surplus or empty files.

    Reads at most one byte past the per-file limit, so an oversize file is refused
    (413) without being read whole.
    """
    settings = services().settings
    files = req.files.getlist(SELFIES_FIELD)
    if not files:
        raise ApiError(
            400,
            "missing_selfies",
            f"send 1 to {settings.max_selfies} images as multipart/form-data field "
            f"'{SELFIES_FIELD}'",
        )
    if len(files) > settings.max_selfies:
        raise ApiError(
            400,
            "too_many_selfies",
            f"{len(files)} selfies sent; at most {settings.max_selfies} are accepted",
        )
    uploads = []
    for index, storage in enumerate(files):
        data = storage.stream.read(settings.max_upload_bytes + 1)
        if not data:
            raise ApiError(400, "empty_file", f"selfie {index} is empty", selfie_index=index)
        if len(data) > settings.max_upload_bytes:
            error = ImageError("too_large", f"over {settings.max_upload_bytes} bytes")
            raise SelfieError(error, index)
        uploads.append(data)
    return uploads
