"""A gunicorn running the service on loopback over a temporary data dir, and a tiny
HTTP client for it (standard library only)."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """gunicorn -c gunicorn.conf.py server.wsgi:app with its own data dir."""

    data_dir: Path
    workers: int = 2
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> None:
        env = {**os.environ, "FACELOOP_PORT": str(self.port), "WEB_CONCURRENCY": str(self.workers),
               "FACELOOP_DATA_DIR": str(self.data_dir), "FACELOOP_ANALYSE_STALE_TEMPLATES": "0",
               "FACELOOP_LOG_LEVEL": "warning", **self.env}  # fmt: skip
        command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "server.wsgi:app"]
        self.proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while len(self.worker_pids()) < self.workers or not self.ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.3)

    def ready(self) -> bool:
        try:
            return request(self.url("/healthz"))[0] == 200
        except OSError:
            return False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)


def peak_rss_mb(pid: int) -> float:
    """The process's high-water resident set (VmHWM), in MiB; 0 once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def request(
    url: str, token: str = "", body: bytes | None = None, content_type: str = ""
) -> tuple[int, bytes, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if content_type:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(
        url, data=body, headers=headers, method="GET" if body is None else "POST"
    )
    try:
        with _OPENER.open(req, timeout=60) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def post_json(url: str, token: str, payload: object) -> tuple[int, dict[str, object]]:
    status, body, _ = request(url, token, json.dumps(payload).encode(), "application/json")
    return status, json.loads(body or b"{}")


def get_json(url: str, token: str = "") -> tuple[int, dict[str, object]]:
    status, body, _ = request(url, token)
    return status, json.loads(body or b"{}")


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    for name, filename, data in files:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def new_device(service: Service) -> str:
    status, raw, _ = request(service.url("/v1/devices"), body=b"")
    assert status == 201, (status, raw[:300])
    return str(json.loads(raw)["token"])


def new_identity(service: Service, token: str, selfie: bytes) -> str:
    body, ctype = multipart({"consent": "true"}, [("selfies", "selfie.png", selfie)])
    status, raw, _ = request(service.url("/v1/identities"), token, body, ctype)
    assert status == 201, (status, raw[:300])
    return str(json.loads(raw)["id"])
