"""tools.fetch_models against a local HTTP server that can misbehave on request."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from server.runtime.manifest import load_manifest
from server.runtime.verify import check_file, read_recorded_sha256
from tools import fetch_models


@dataclass
class Behaviour:
    """How the server answers one file."""

    status: int | None = None  # answer with this HTTP error
    cut_after: int | None = None  # send this many body bytes, then drop the connection (once)
    corrupt: bool = False  # flip the first bytes
    ignore_range: bool = False  # answer 200 with the whole file even to a Range request
    wrong_range: bool = False  # answer 206 to a Range request, but from byte 0


@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)
    behaviour: dict[str, Behaviour] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    """Serves ServerState.files by URL path with Range support (HTTP/1.0: one request per
    connection, so a response cut short ends with the connection closing)."""

    server: _Server

    def do_GET(self) -> None:
        state = self.server.state
        path = self.path.lstrip("/")
        state.requests.append((path, self.headers.get("Range")))
        how = state.behaviour.get(path, Behaviour())
        data = state.files.get(path)
        if how.status is not None or data is None:
            self.send_error(how.status or 404)
            return
        if how.corrupt:
            data = bytes(b ^ 0xFF for b in data[:16]) + data[16:]
        start = self._range_start(len(data), how)
        if start is None:
            return
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if how.cut_after is not None:
            body, how.cut_after = body[: how.cut_after], None
        self.wfile.write(body)

    def _range_start(self, size: int, how: Behaviour) -> int | None:
        header = self.headers.get("Range")
        if not header or how.ignore_range:
            self.send_response(200)
            return 0
        if how.wrong_range:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes 0-{size - 1}/{size}")
            return 0
        start = int(header.removeprefix("bytes=").split("-")[0])
        if start >= size:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        return start

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ServerState


@pytest.fixture
def server() -> Iterator[tuple[str, ServerState]]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.state = ServerState()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _blob(seed: int, size: int = 300_000) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def _entry(name: str, data: bytes, urls: list[str], **extra: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "name": name,
        "role": "detector",
        "file": f"{name}.onnx",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "urls": urls,
        "license": "MIT",
        "commercial_use": True,
        "license_url": "https://example.invalid/license",
        "inputs": [{"name": "x", "shape": [1, 3, 8, 8]}],
        "outputs": [{"name": "y", "shape": [1, 3, 8, 8]}],
    }
    entry.update(extra)
    return entry


@dataclass
class Env:
    base: str  # server URL
    state: ServerState
    data: dict[str, bytes]  # model name -> served bytes
    manifest: Path
    dest: Path

    def run(self, *args: str) -> int:
        argv = [*args, "--dir", str(self.dest), "--manifest", str(self.manifest)]
        return fetch_models.main([*argv, "--timeout", "5"])

    def set_field(self, index: int, key: str, value: object) -> None:
        raw = json.loads(self.manifest.read_text())
        raw["models"][index][key] = value
        self.manifest.write_text(json.dumps(raw))

    def set_urls(self, index: int, urls: list[str]) -> None:
        self.set_field(index, "urls", urls)


@pytest.fixture
def env(server, tmp_path) -> Env:
    """One served file per model (free, nc = non-commercial, loose = unpinned), a manifest."""
    base, state = server
    data = {"free": _blob(1), "nc": _blob(2), "loose": _blob(3)}
    for name, blob in data.items():
        state.files[f"{name}.onnx"] = blob
    entries = [
        _entry("free", data["free"], [f"{base}/free.onnx"]),
        _entry("nc", data["nc"], [f"{base}/nc.onnx"], commercial_use=False, license="NC-1"),
        _entry("loose", data["loose"], [f"{base}/loose.onnx"], sha256=None),
    ]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"schema_version": 1, "models": entries}))
    return Env(base, state, data, manifest, tmp_path / "models")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_success_verifies_hash_and_leaves_no_part(env, capsys):
    assert env.run("free") == 0
    assert _sha(env.dest / "free.onnx") == hashlib.sha256(env.data["free"]).hexdigest()
    assert not (env.dest / "free.onnx.part").exists()
    assert env.state.requests == [("free.onnx", None)]
    assert "licence MIT (commercial use allowed)" in capsys.readouterr().out


def test_present_and_verified_file_is_skipped(env, capsys):
    assert env.run("free") == 0
    assert env.run("free") == 0
    assert len(env.state.requests) == 1
    assert "already present and verified" in capsys.readouterr().out


def test_corrupt_final_file_is_replaced(env):
    env.dest.mkdir()
    (env.dest / "free.onnx").write_bytes(b"x" * len(env.data["free"]))
    assert env.run("free") == 0
    assert (env.dest / "free.onnx").read_bytes() == env.data["free"]


def test_interrupted_download_keeps_part_and_resumes_with_range(env, capsys):
    env.state.behaviour["free.onnx"] = Behaviour(cut_after=100_000)
    assert env.run("free", "--no-progress") == 1
    err = capsys.readouterr().err
    assert "interrupted after 100000 of 300000 bytes" in err and "kept" in err
    assert (env.dest / "free.onnx.part").stat().st_size == 100_000
    assert not (env.dest / "free.onnx").exists()
    assert env.run("free") == 0
    assert env.state.requests[-1] == ("free.onnx", "bytes=100000-")
    assert (env.dest / "free.onnx").read_bytes() == env.data["free"]
    assert not (env.dest / "free.onnx.part").exists()


def test_server_ignoring_range_restarts_cleanly(env):
    env.dest.mkdir()
    (env.dest / "free.onnx.part").write_bytes(b"garbage!" * 1000)  # appending would break the hash
    env.state.behaviour["free.onnx"] = Behaviour(ignore_range=True)
    assert env.run("free") == 0
    assert env.state.requests == [("free.onnx", "bytes=8000-")]
    assert (env.dest / "free.onnx").read_bytes() == env.data["free"]


def test_server_sending_another_range_restarts_cleanly(env):
    env.dest.mkdir()
    (env.dest / "free.onnx.part").write_bytes(env.data["free"][:5000])
    env.state.behaviour["free.onnx"] = Behaviour(wrong_range=True)
    assert env.run("free") == 0
    assert env.state.requests == [("free.onnx", "bytes=5000-"), ("free.onnx", None)]
    assert (env.dest / "free.onnx").read_bytes() == env.data["free"]


def test_complete_part_of_unknown_size_uses_the_416_total(env):
    env.set_field(0, "bytes", None)
    env.dest.mkdir()
    (env.dest / "free.onnx.part").write_bytes(env.data["free"])
    assert env.run("free") == 0
    assert env.state.requests == [("free.onnx", f"bytes={len(env.data['free'])}-")]
    assert (env.dest / "free.onnx").read_bytes() == env.data["free"]


def test_complete_part_answered_416_is_finished(env):
    env.dest.mkdir()
    (env.dest / "free.onnx.part").write_bytes(env.data["free"])
    assert env.run("free") == 0
    assert env.state.requests == [("free.onnx", f"bytes={len(env.data['free'])}-")]
    assert (env.dest / "free.onnx").read_bytes() == env.data["free"]


def test_corrupted_bytes_fail_and_leave_nothing(env, capsys):
    env.state.behaviour["free.onnx"] = Behaviour(corrupt=True)
    assert env.run("free") == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "sha256 mismatch" in lines[0]
    assert not (env.dest / "free.onnx").exists()
    assert not (env.dest / "free.onnx.part").exists()


@pytest.mark.parametrize("status", [404, 500])
def test_http_error_fails_with_one_line(env, capsys, status):
    env.state.behaviour["free.onnx"] = Behaviour(status=status)
    assert env.run("free") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"HTTP {status}" in err[0]
    assert not any(env.dest.iterdir())


def test_unreachable_host_fails_cleanly(env, capsys):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert env.run("free", "--mirror", f"http://127.0.0.1:{port}") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: free:") and "refused" in err.lower()
    assert not (env.dest / "free.onnx").exists()


def test_next_mirror_is_tried_after_a_failure(env):
    env.set_urls(0, [f"{env.base}/broken/free.onnx", f"{env.base}/free.onnx"])
    env.state.behaviour["broken/free.onnx"] = Behaviour(status=500)
    assert env.run("free") == 0
    assert [path for path, _ in env.state.requests] == ["broken/free.onnx", "free.onnx"]
    assert (env.dest / "free.onnx").read_bytes() == env.data["free"]


def test_noncommercial_needs_acceptance_and_licence_is_printed(env, capsys):
    assert env.run("nc") == 1
    captured = capsys.readouterr()
    assert "licence NC-1 (commercial use NOT allowed)" in captured.out
    assert "--accept-license noncommercial" in captured.err
    assert env.state.requests == []
    assert env.run("nc", "--accept-license", "noncommercial") == 0
    assert "licence NC-1" in capsys.readouterr().out
    assert (env.dest / "nc.onnx").exists()


def test_present_verified_file_needs_no_licence_flag(env, capsys):
    assert env.run("nc", "--accept-license", "noncommercial") == 0
    assert env.run("nc") == 0
    out = capsys.readouterr().out
    assert "licence NC-1 (commercial use NOT allowed)" in out
    assert "nc: already present and verified (manifest sha256)" in out
    assert len(env.state.requests) == 1


def test_unknown_name_exits_2(env, capsys):
    assert env.run("free", "nope") == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert env.state.requests == []


def test_mirror_replaces_the_host(env):
    env.set_urls(0, ["https://unreachable.invalid/free.onnx"])
    env.state.files["mirror/free.onnx"] = env.data["free"]
    assert env.run("free", "--mirror", f"{env.base}/mirror/") == 0
    assert env.state.requests == [("mirror/free.onnx", None)]
    assert (env.dest / "free.onnx").read_bytes() == env.data["free"]


def test_unpinned_needs_flag_then_records_hash(env, capsys):
    assert env.run("loose") == 1
    assert "--allow-unpinned" in capsys.readouterr().err
    assert env.state.requests == []
    assert env.run("loose", "--allow-unpinned") == 0
    digest = hashlib.sha256(env.data["loose"]).hexdigest()
    assert read_recorded_sha256(env.dest / "loose.onnx") == digest
    assert digest in capsys.readouterr().out
    entry = load_manifest(env.manifest).get("loose")
    check = check_file(entry, env.dest / "loose.onnx", cache=None)
    assert check.verified and check.hash_source == "recorded"
    assert env.run("loose") == 0  # present and matching its record: nothing to fetch
    assert len(env.state.requests) == 1


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux /dev/full")
def test_disk_full_is_reported(env, capsys):
    env.dest.mkdir()
    (env.dest / "free.onnx.part").symlink_to("/dev/full")
    assert env.run("free") == 1
    errors = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and "disk full" in errors[0]
    assert not (env.dest / "free.onnx").exists()


def test_local_file_error_stops_without_trying_other_mirrors(env, capsys):
    env.set_urls(0, [f"{env.base}/free.onnx", f"{env.base}/other/free.onnx"])
    env.state.files["other/free.onnx"] = env.data["free"]
    env.dest.mkdir()
    (env.dest / "free.onnx.part").mkdir()  # cannot be opened for writing
    assert env.run("free") == 1
    errors = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert errors == [f"error: free: {env.dest / 'free.onnx.part'}: Is a directory"]
    assert [path for path, _ in env.state.requests] == ["free.onnx"]
    assert not (env.dest / "free.onnx").exists()


def test_list_prints_licences_without_network(env, capsys):
    assert env.run("--list") == 0
    out = capsys.readouterr().out
    assert "loose [detector] loose.onnx, 300000 bytes, UNPINNED" in out
    assert env.state.requests == []
