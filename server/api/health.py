"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint

from server.api.context import services
from server.api.redact import redact_tree
from server.api.schemas import Health, Readiness

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, object]:
    """Alive: the process answers. Touches nothing."""
    return Health().model_dump()


@bp.get("/readyz")
def readyz() -> tuple[dict[str, object], int]:
    """Ready: engines loaded and the catalog up; 503 until then. Also lists engines that
    cannot run (with the reason) and each model's state: present, verified, provider,
    licence. Missing models leave the service ready with the classic engine."""
    state = Readiness.model_validate(redact_tree(services().readiness()))
    return state.model_dump(), 200 if state.ready else 503
