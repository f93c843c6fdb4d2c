"""Access to the per-process Services from inside a request."""

from __future__ import annotations

from flask import current_app

from server.services import Services

EXTENSION_KEY = "faceloop"


def services() -> Services:
    """The Services built by ``create_app`` for this process."""
    found: Services = current_app.extensions[EXTENSION_KEY]
    return found
