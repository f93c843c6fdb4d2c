"""Faceloop: a Reface-style face-swap backend for curated GIF templates.

``create_app`` is the only entry point: Settings -> Services -> blueprints. Services
(dlib models, template catalog, engines, stores, render workers) are built here, once
per process; under gunicorn that is after the fork, in each worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

from server.settings import Settings, load_settings

if TYPE_CHECKING:
    from server.services import Services

# Multipart bodies carry up to max_selfies files plus some form overhead.
_MULTIPART_SLACK = 1024 * 1024


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Flask:
    """Build the Flask app.

    ``services`` lets tests hand in pre-built (e.g. shared) Services; normally they are
    built from ``settings`` (default: the FACELOOP_* environment).
    """
    from server.api import register_api
    from server.api.context import EXTENSION_KEY
    from server.api.request import UploadRequest
    from server.services import build_services

    settings = settings or (services.settings if services else load_settings())
    app = Flask(__name__, static_folder=None)
    app.request_class = UploadRequest
    # Bodies above this are refused (JSON 413) before any view runs; JSON endpoints
    # lower it per request.
    app.config["MAX_CONTENT_LENGTH"] = (
        settings.max_selfies * settings.max_upload_bytes + _MULTIPART_SLACK
    )
    app.extensions[EXTENSION_KEY] = services or build_services(settings)
    register_api(app, settings)
    return app
