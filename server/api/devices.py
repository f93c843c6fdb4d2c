"""/v1/devices: register a device (its bearer token), erase a device and all its data."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response

from server.api.auth import current_device
from server.api.context import services
from server.api.schemas import DeviceCreated
from server.identities import iso_utc

bp = Blueprint("devices", __name__, url_prefix="/v1/devices")


@bp.post("")
def create_device() -> tuple[dict[str, object], int, dict[str, str]]:
    """201 with ``device_id`` and ``token``; the token is shown this once only."""
    device = services().devices.create(iso_utc(datetime.now(UTC)))
    body = DeviceCreated(device_id=device.device_id, token=device.token)
    return body.model_dump(mode="json"), 201, {"Cache-Control": "no-store"}


@bp.delete("/me")
def delete_device() -> Response:
    """Erase the device: its identities, renders, results and its token; 204."""
    services().erase_device(current_device())
    return Response(status=204)
