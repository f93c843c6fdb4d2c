"""Rate limits per device, per client address and for new devices: JSON 429
rate_limited with Retry-After, counted in a storage every gunicorn worker shares."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.storage.ratelimit import SqliteRateStorage, storage_uri
from tests.api.conftest import AppFactory, anonymous, fake_app, new_device
from tests.api.test_gunicorn_errors import REPO, free_port, raw_request

UNKNOWN = "/v1/identities/idt_" + "0" * 24


def assert_limited(response: Any, window_s: int = 60) -> int:
    assert response.status_code == 429, response.data
    assert response.json["error"]["code"] == "rate_limited"
    retry = response.headers["Retry-After"]
    assert retry.isdigit() and 1 <= int(retry) <= window_s + 1  # the window's end
    return int(retry)


def test_each_device_has_its_own_budget(make_app: AppFactory) -> None:
    app = fake_app(make_app, ratelimit_device="3 per minute")
    first, _ = new_device(app)
    second, _ = new_device(app)
    assert [first.get(UNKNOWN).status_code for _ in range(3)] == [404] * 3
    assert_limited(first.get(UNKNOWN))
    assert second.get(UNKNOWN).status_code == 404  # another device is not affected
    ok = second.get(UNKNOWN)
    assert "Retry-After" not in ok.headers


def test_the_address_limit_counts_requests_with_bad_tokens(make_app: AppFactory) -> None:
    app = fake_app(make_app, ratelimit_address="4 per minute")
    client = anonymous(app)
    bad = {"Authorization": "Bearer guessed"}
    assert [client.get(UNKNOWN, headers=bad).status_code for _ in range(4)] == [401] * 4
    assert_limited(client.get(UNKNOWN, headers=bad))
    other = client.get(UNKNOWN, headers=bad, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 401
    assert client.get("/healthz").status_code == 200  # probes are never limited


def test_registering_devices_is_limited_per_address(make_app: AppFactory) -> None:
    app = fake_app(make_app, ratelimit_new_devices="2 per hour")
    client = anonymous(app)
    assert [client.post("/v1/devices").status_code for _ in range(2)] == [201, 201]
    assert assert_limited(client.post("/v1/devices"), 3600) > 3500
    assert client.get("/v1/templates").status_code == 200  # other calls go on


def test_sqlite_storage_windows(tmp_path: Path) -> None:
    storage = SqliteRateStorage(storage_uri(tmp_path / "db.sqlite3"))
    assert [storage.incr("k", 1) for _ in range(3)] == [1, 2, 3]
    assert storage.get("k") == 3 and storage.get("other") == 0
    assert time.time() < storage.get_expiry("k") <= time.time() + 1
    time.sleep(1.05)
    assert storage.get("k") == 0 and storage.incr("k", 1) == 1  # a fresh window
    storage.clear("k")
    assert storage.get("k") == 0 and storage.check()
    with pytest.raises(ValueError):
        SqliteRateStorage("faceloop+sqlite://relative/path")


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """gunicorn with 2 workers on one data dir, 5 requests per device per minute."""
    port = free_port()
    env = {**os.environ, "FACELOOP_PORT": str(port), "FACELOOP_ANALYSE_STALE_TEMPLATES": "0",
           "WEB_CONCURRENCY": "2", "FACELOOP_LOG_LEVEL": "warning",
           "FACELOOP_DATA_DIR": str(tmp_path_factory.mktemp("data")),
           "FACELOOP_RATELIMIT_DEVICE": "5 per minute"}  # fmt: skip
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--keep-alive", "60"]
    command.append("tests.api.limited_wsgi:app")  # connections stay with their worker
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while (
            raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            is None
        ):
            assert proc.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


def _pinned_connections(port: int) -> dict[str, http.client.HTTPConnection]:
    """Keep-alive connections, one per gunicorn worker (a connection stays with the
    worker that accepted it). The first worker answers as soon as it has loaded the
    app; the second may still be loading it on a busy machine, so this keeps asking
    for up to a minute."""
    found: dict[str, http.client.HTTPConnection] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        worker = response.getheader("X-Worker") or ""
        if worker in found:
            conn.close()
            time.sleep(0.05)
        else:
            found[worker] = conn
        if len(found) == 2:
            return found
    for conn in found.values():
        conn.close()
    raise AssertionError("only one worker ever answered")


def test_the_limit_holds_across_gunicorn_workers(two_workers: int) -> None:
    conns = _pinned_connections(two_workers)
    first = next(iter(conns.values()))
    first.request("POST", "/v1/devices")
    device = json.loads(first.getresponse().read())
    auth = {"Authorization": f"Bearer {device['token']}"}
    seen: list[tuple[int, str]] = []
    for i in range(12):  # alternate between the two workers
        conn = list(conns.values())[i % 2]
        conn.request("GET", UNKNOWN, headers=auth)
        response = conn.getresponse()
        body = json.loads(response.read())
        seen.append((response.status, response.getheader("X-Worker") or ""))
        if response.status == 429:
            assert body["error"]["code"] == "rate_limited"
            assert response.getheader("Retry-After", "").isdigit()
    for conn in conns.values():
        conn.close()
    assert [s for s, _ in seen] == [404] * 5 + [429] * 7, seen
    assert {w for _, w in seen} == set(conns)  # both workers answered, one shared count
