"""The HTTP layer: blueprints, schemas, one error shape. Views parse, call a service,
and translate the answer; nothing heavy happens here."""

from __future__ import annotations

from flask import Flask

from server.api import health, identities, openapi, renders, templates, verify
from server.api.errors import register_error_handlers


def register_api(app: Flask) -> None:
    """Attach every blueprint and the JSON error handlers."""
    for module in (health, identities, templates, renders, verify, openapi):
        app.register_blueprint(module.bp)
    register_error_handlers(app)
