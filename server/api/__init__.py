"""The HTTP layer: blueprints, schemas, one error shape. Views parse, call a service,
and translate the answer; nothing heavy happens here."""

from __future__ import annotations

from flask import Flask

from server.api import devices, health, identities, openapi, renders, templates, verify
from server.api.auth import register_auth
from server.api.errors import register_error_handlers
from server.api.ratelimit import build_limiter
from server.settings import Settings


def register_api(app: Flask, settings: Settings) -> None:
    """Attach the rate limiter, authentication, every blueprint and the JSON error
    handlers (the limiter first: requests with bad tokens count too)."""
    register_error_handlers(app)
    build_limiter(app, settings)
    register_auth(app)
    for module in (health, devices, identities, templates, renders, verify, openapi):
        app.register_blueprint(module.bp)
