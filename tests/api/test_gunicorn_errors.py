"""gunicorn itself, run with gunicorn.conf.py: the errors it answers before the app
runs (414, 431, 400) have the API's JSON shape."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.gunicorn_errors import json_error_response

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def gunicorn_port() -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "FACELOOP_PORT": str(port), "FACELOOP_ANALYSE_STALE_TEMPLATES": "0",
           "WEB_CONCURRENCY": "1", "FACELOOP_LOG_LEVEL": "warning"}  # fmt: skip
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
    command.append("tests.api.tiny_wsgi:app")
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while raw_request(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") is None:
            assert proc.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


def raw_request(port: int, data: bytes) -> bytes | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(data)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
                if b"Connection: close" not in received and b"\r\n\r\nok" in received:
                    break
            return received
    except OSError:
        return None


def split(response: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 150 + b"\r\n", 431,
         "headers_too_large"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431,
         "headers_too_large"),
        (b"NOT A REQUEST\r\n\r\n", 400, "bad_request"),
    ],
)  # fmt: skip
def test_gunicorn_errors_are_json(
    gunicorn_port: int, request_bytes: bytes, status: int, code: str
) -> None:
    response = raw_request(gunicorn_port, request_bytes)
    assert response is not None
    got, headers, body = split(response)
    assert got == status, response[:300]
    assert headers["content-type"] == "application/json"
    assert headers["x-content-type-options"] == "nosniff"
    error = json.loads(body)["error"]
    assert error["code"] == code and error["message"]


def test_the_raw_response_is_well_formed() -> None:
    status, headers, body = split(json_error_response(414, "URI Too Long"))
    assert status == 414 and int(headers["content-length"]) == len(body)
    assert json.loads(body) == {"error": {"code": "uri_too_long", "message": "URI Too Long"}}
