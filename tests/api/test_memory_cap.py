"""The per-worker memory cap (RLIMIT_DATA, set in gunicorn's post_fork): a request whose
allocation goes over it answers 503 ``out_of_memory`` in the JSON error shape, and the
same worker goes on serving the next request."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from server.vision import image_io
from server.worker_memory import DEFAULT_MB, ENV_VAR, memory_cap_mb
from tests.api.conftest import TEMPLATE_ID, AppFactory, fake_app
from tests.api.test_renders import new_identity as api_identity
from tests.api.test_renders import poll, post_render
from tests.jobs.fakes import ScriptedRenderer
from tools.loadtest import licence_clean_faces
from tools.reliability.service import REPO, Service, multipart, new_device, request

# Single threaded native libraries keep the worker's data at rest small and the same on
# any machine (~340 MiB here), the classic engine only.
_QUIET_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "FACELOOP_ORT_THREADS": "1",
              "FACELOOP_NEURAL_MODELS": "0", "FACELOOP_RENDER_WORKERS": "1"}  # fmt: skip
CAP_MB = 560  # a good selfie peaks near 420 MiB; the big PNG needs 340 + 353 MiB
BIG_SIDE = 9400  # 88 MP: under Pillow's bomb threshold, 353 MB as decoded RGB(X)


def test_cap_setting_parses_and_refuses_nonsense() -> None:
    assert memory_cap_mb({}) == DEFAULT_MB
    assert memory_cap_mb({ENV_VAR: " 2048 "}) == 2048
    assert memory_cap_mb({ENV_VAR: "0"}) == 0
    for bad in ("lots", "-1", "100", "1.5"):
        with pytest.raises(ValueError, match=ENV_VAR):
            memory_cap_mb({ENV_VAR: bad})


def test_capped_process_gets_memory_error_and_recovers() -> None:
    script = (
        "import numpy as np\n"
        "from server.worker_memory import apply_memory_cap\n"
        "apply_memory_cap(300)\n"
        "try:\n"
        "    np.ones(400 * 2**20, np.uint8)\n"
        "    print('allocated')\n"
        "except MemoryError:\n"
        "    print('memory error')\n"
        "print(int(np.ones(100 * 2**20, np.uint8).sum()))\n"
    )
    env = {"OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()  # fmt: skip
    assert out == ["memory", "error", str(100 * 2**20)]


def test_decoder_lets_memory_error_through(monkeypatch: pytest.MonkeyPatch) -> None:
    """Running out of memory is not a bad image: it must not become a 400."""

    def no_memory(self: Image.Image) -> None:
        raise MemoryError

    data = png_bytes(np.full((64, 64, 3), 128, np.uint8))
    monkeypatch.setattr(image_io.ImageFile.ImageFile, "load", no_memory)
    with pytest.raises(MemoryError):
        image_io.decode_upload(data, 10**6, 10**6)


def test_a_render_out_of_memory_fails_with_a_reason_and_the_next_one_runs(
    make_app: AppFactory, face_jpeg: bytes
) -> None:
    renderer = ScriptedRenderer()
    client = fake_app(make_app, renderer=renderer).test_client()
    ident = api_identity(client, face_jpeg)

    def no_memory(progress: object, cancelled: object) -> None:
        raise MemoryError

    renderer.behaviour = no_memory
    first = post_render(client, identity_id=ident, template_id=TEMPLATE_ID, format="gif").json
    failed = poll(client, first["status_url"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "out_of_memory"
    assert failed["error"]["message"]

    renderer.behaviour = lambda progress, cancelled: None
    second = post_render(client, identity_id=ident, template_id=TEMPLATE_ID, format="webp").json
    assert poll(client, second["status_url"])["status"] == "done"


def png_bytes(pixels: np.ndarray) -> bytes:
    from io import BytesIO

    out = BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def big_png(side: int) -> bytes:
    """A valid side x side RGB PNG, grey with a band of noise (so its size passes the
    lossless-ratio check), written row by row without ever holding the pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    rng = np.random.default_rng(7)
    grey = b"\0" + bytes([128]) * (3 * side)
    packer = zlib.compressobj(1)
    parts = []
    for row in range(side):
        noisy = row < 64
        line = b"\0" + rng.integers(0, 256, 3 * side, np.uint8).tobytes() if noisy else grey
        parts.append(packer.compress(line))
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts))
            + chunk(b"IEND", b""))  # fmt: skip


@pytest.fixture(scope="module")
def capped_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    env = {**_QUIET_ENV, ENV_VAR: str(CAP_MB), "FACELOOP_MAX_UPLOAD_PIXELS": "89000000",
           "FACELOOP_MAX_DECODE_BYTES": str(512 * 2**20)}  # fmt: skip
    service = Service(tmp_path_factory.mktemp("capped") / "data", workers=1, env=env)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def post_selfie(service: Service, token: str, selfie: bytes) -> tuple[int, dict[str, str], dict]:
    body, ctype = multipart({"consent": "true"}, [("selfies", "selfie.png", selfie)])
    status, raw, headers = request(service.url("/v1/identities"), token, body, ctype)
    return status, headers, json.loads(raw)


def test_request_over_the_cap_is_503_and_worker_serves_on(capped_service: Service) -> None:
    (pid,) = capped_service.worker_pids()
    limits = Path(f"/proc/{pid}/limits").read_text()
    assert f"{CAP_MB * 2**20}" in next(ln for ln in limits.splitlines() if "data size" in ln)
    token = new_device(capped_service)
    big = big_png(BIG_SIDE)
    assert len(big) < 10 * 2**20  # within the byte limit; pixels within the pixel limit

    status, headers, body = post_selfie(capped_service, token, big)
    assert status == 503, body
    assert body["error"]["code"] == "out_of_memory"
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Retry-After"]) > 0

    status, _, body = post_selfie(capped_service, token, licence_clean_faces()[0])
    assert status == 201, body
    assert capped_service.worker_pids() == [pid]  # the same worker, never restarted


def test_development_server_is_capped_too(tmp_path: Path) -> None:
    """``python -m server`` sets the same cap on itself before it loads anything."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**_QUIET_ENV, "PATH": "/usr/bin:/bin", ENV_VAR: "3000",
           "FACELOOP_DATA_DIR": str(tmp_path / "data"), "FACELOOP_PORT": str(port)}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "server"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline and proc.poll() is None:
            limits = Path(f"/proc/{proc.pid}/limits").read_text().splitlines()
            line = next(ln for ln in limits if "data size" in ln)
            if str(3000 * 2**20) in line:
                break
            time.sleep(0.1)
        assert str(3000 * 2**20) in line, line
    finally:
        proc.terminate()
        proc.wait(timeout=30)
