"""Rate limits per device and per client address (Flask-Limiter, fixed windows).

The counters live in a storage every gunicorn worker shares: by default the data
dir's SQLite database (:mod:`server.storage.ratelimit`), or Redis when
``FACELOOP_RATELIMIT_STORAGE_URI`` names one. A refusal is the JSON error
``rate_limited`` (429) with ``Retry-After``.

The address limit counts every request, with or without a valid token (so tokens
cannot be guessed at speed); the device limit counts the requests of each device.
Behind a reverse proxy, configure it to set ``REMOTE_ADDR`` (e.g. werkzeug's
ProxyFix) so the address is the client's, not the proxy's.
"""

from __future__ import annotations

import math
import time

from flask import Flask, Response, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded

from server.api.auth import token_device
from server.api.errors import error_response
from server.settings import Settings
from server.storage.db import Database
from server.storage.ratelimit import storage_uri

_NEW_DEVICE = ("POST", "/v1/devices")


def _address() -> str:
    return request.remote_addr or "unknown"


def _device() -> str:
    return token_device() or ""


def _is_new_device_request() -> bool:
    return (request.method, request.path.rstrip("/")) == _NEW_DEVICE


def build_limiter(app: Flask, settings: Settings) -> Limiter:
    """Attach the limiter to ``app`` (before authentication, so every try counts)."""
    uri = settings.ratelimit_storage_uri or storage_uri(Database.in_dir(settings.data_dir).path)
    limits = [
        ApplicationLimit(
            settings.ratelimit_address,
            key_function=_address,
            scope="address",
            exempt_when=lambda: not request.path.startswith("/v1/"),  # probes, openapi
        ),
        ApplicationLimit(
            settings.ratelimit_device,
            key_function=_device,
            scope="device",
            exempt_when=lambda: token_device() is None,
        ),
        ApplicationLimit(
            settings.ratelimit_new_devices,
            key_function=_address,
            scope="new-device",
            exempt_when=lambda: not _is_new_device_request(),
        ),
    ]
    limiter = Limiter(
        key_func=_address,
        app=app,
        application_limits=limits,  # type: ignore[arg-type]
        storage_uri=uri,
        strategy="fixed-window",
        headers_enabled=False,  # it would put Retry-After on every response
        swallow_errors=True,  # a counter that cannot be written never fails the request
        key_prefix="faceloop",
    )

    def rate_limited(exc: RateLimitExceeded) -> Response:
        """429 rate_limited; Retry-After: seconds until the exceeded window resets."""
        wait = float(exc.limit.limit.get_expiry())
        current = limiter.current_limit
        if current is not None:
            wait = current.reset_at - time.time()
        return error_response(
            429,
            "rate_limited",
            f"too many requests ({exc.limit.limit}); try again later",
            {"Retry-After": str(max(1, math.ceil(wait)))},
        )

    app.register_error_handler(RateLimitExceeded, rate_limited)
    return limiter
