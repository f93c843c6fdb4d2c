"""gunicorn's own error answers (414, 431, 400 for a malformed request...) in the API's
JSON error shape instead of its HTML page.

gunicorn writes those before any WSGI app runs, through ``gunicorn.util.write_error``;
:func:`install` replaces that function in the process (``gunicorn.conf.py`` calls it
from ``post_fork``). The message is gunicorn's reason phrase, never the request
echoed back.
"""

from __future__ import annotations

import json
import socket
from typing import Any

_CODES = {
    400: "bad_request",
    403: "forbidden",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "headers_too_large",
    500: "internal",
    501: "not_implemented",
}


def json_error_response(status: int, reason: str) -> bytes:
    """The raw HTTP/1.1 response gunicorn sends, as JSON; the connection closes after."""
    code = _CODES.get(status) or reason.lower().replace(" ", "_") or "error"
    message = reason or "the request could not be read"
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Drop-in for ``gunicorn.util.write_error`` (``mesg`` may echo the request: unused)."""
    from gunicorn import util

    util.write_nonblock(sock, json_error_response(int(status_int), str(reason)))


def install(*_: Any) -> None:
    """Make this process's gunicorn answer its own errors as JSON."""
    from gunicorn import util

    util.write_error = write_json_error
