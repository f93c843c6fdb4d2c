"""The real app (devices, auth, rate limits, records) on fake models, catalog and
renderer, so gunicorn can run it with several workers in a test without loading
models. Settings come from FACELOOP_* variables; each response names its worker."""

from __future__ import annotations

import os

from flask import Response

from server import create_app
from server.services import build_services
from server.settings import load_settings


class _NoTemplates:
    def get(self, template_id: str) -> None:
        return None

    def list(self, tag: str | None = None) -> list[object]:
        return []

    def __len__(self) -> int:
        return 0


def _never_renders(*_: object, **__: object) -> object:
    raise RuntimeError("no renders in this app")


settings = load_settings()
services = build_services(
    settings,
    face_models=object(),
    templates=_NoTemplates(),  # type: ignore[arg-type]
    engines={"classic": object()},
    renderer=_never_renders,  # type: ignore[arg-type]
)
app = create_app(settings, services=services)


@app.after_request
def _name_worker(response: Response) -> Response:
    response.headers["X-Worker"] = str(os.getpid())
    return response
