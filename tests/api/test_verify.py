"""POST /v1/verify: a render's output is recognised (also re-encoded, halved and
trimmed), a foreign file is not, and bad uploads get clean 4xx answers."""

from __future__ import annotations

import io
import struct
import time
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.api.conftest import TEMPLATE_ID, AppFactory, anonymous, multipart, new_device, upload

RENDER_TIMEOUT_S = 120.0


def verify(client: Any, data: bytes, name: str = "x.gif", field: str = "file") -> Any:
    body, ctype = multipart(field, [(data, name, "application/octet-stream")])
    return client.post("/v1/verify", data=body, content_type=ctype)


def rendered(
    client: Any, face_jpeg: bytes, fmt: str, identity: str | None = None
) -> tuple[str, bytes]:
    identity = identity or upload(client, face_jpeg).json["id"]
    body = {"identity_id": identity, "template_id": TEMPLATE_ID, "format": fmt}
    status_url = client.post("/v1/renders", json=body).json["status_url"]
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while (state := client.get(status_url).json)["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert state["status"] == "done", state["error"]
    with client.get(state["result_url"]) as response:
        return str(state["id"]), response.data


def regif(data: bytes, scale: float = 1.0, keep: float = 1.0) -> bytes:
    """Decoded, optionally scaled and trimmed, saved again by Pillow (new palette,
    nothing of the old file's metadata)."""
    with Image.open(io.BytesIO(data)) as im:
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frame = im.convert("RGB")
            frame.info = {}
            size = (round(frame.width * scale), round(frame.height * scale))
            frames.append(frame.resize(size, Image.Resampling.BOX))
    frames = frames[: max(1, int(len(frames) * keep))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=80)
    return buf.getvalue()


@pytest.fixture
def client(make_app: AppFactory) -> Any:
    return make_app().test_client()


def test_render_is_recognised_with_its_id(client: Any, face_jpeg: bytes) -> None:
    render_id, data = rendered(client, face_jpeg, "gif")
    answer = verify(client, data)
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["made_here"] is True and body["render_id"] == render_id
    assert body["format"] == "gif" and body["frames"] == 6
    assert body["score"] >= body["threshold"]
    c2pa = body["labels"]["c2pa"]
    assert c2pa["ai_generated"] is True and c2pa["validation_state"] == "Valid"
    assert body["labels"]["gif_comment"] is True
    # re-encoded, halved and trimmed: the credentials are gone, the watermark is not
    copy = verify(client, regif(data, scale=0.5, keep=0.5)).json
    assert copy["made_here"] is True and copy["render_id"] == render_id
    assert copy["labels"]["c2pa"] is None and copy["labels"]["gif_comment"] is False


def test_mp4_render_is_recognised(client: Any, face_jpeg: bytes) -> None:
    render_id, data = rendered(client, face_jpeg, "mp4")
    body = verify(client, data, "x.mp4").json
    assert body["made_here"] is True and body["render_id"] == render_id
    assert body["format"] == "mp4" and body["labels"]["c2pa"]["ai_generated"] is True


def test_foreign_file_is_not_made_here(client: Any, catalog: Any, face_jpeg: bytes) -> None:
    rendered(client, face_jpeg, "webp")  # the index is not empty
    source = catalog.get(TEMPLATE_ID).source_path.read_bytes()
    body = verify(client, source).json
    assert body["made_here"] is False and body["render_id"] is None
    assert body["score"] < body["threshold"]
    assert body["labels"] == {"c2pa": None, "gif_comment": False}
    frames = [Image.fromarray(np.full((40, 40, 3), v, np.uint8)) for v in (10, 90)]
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:])
    assert verify(client, buf.getvalue(), "x.webp").json["made_here"] is False


def test_render_id_only_for_its_owner_and_while_it_exists(client: Any, face_jpeg: bytes) -> None:
    identity = upload(client, face_jpeg).json["id"]
    render_id, data = rendered(client, face_jpeg, "gif", identity)
    app = client.application
    assert anonymous(app).post("/v1/verify").status_code == 401
    other, _ = new_device(app)
    body = verify(other, data).json
    assert body["made_here"] is True and body["render_id"] is None
    assert client.delete(f"/v1/identities/{identity}").status_code == 204
    body = verify(client, data).json
    assert body["made_here"] is True and body["render_id"] is None
    db_file = app.extensions["faceloop"].db.path
    for path in db_file.parent.glob(db_file.name + "*"):
        assert render_id.encode() not in path.read_bytes()


def huge_gif() -> bytes:
    """A GIF whose header declares a 65535x65535 screen (a few bytes of data)."""
    return b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0, 0, 0) + b";"


@pytest.mark.parametrize(("data", "status", "code"), [
    (b"", 400, "empty_file"),
    (b"%PDF-1.7 hello", 415, "unsupported_type"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, 415, "unsupported_type"),
    (b"GIF89a\x10\x00\x10\x00\x00\x00\x00", 400, "bad_image"),
    (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 40, 400, "bad_image"),
    (huge_gif(), 413, "too_large"),
])  # fmt: skip
def test_bad_uploads(client: Any, data: bytes, status: int, code: str) -> None:
    answer = verify(client, data)
    assert answer.status_code == status, answer.json
    assert answer.json["error"]["code"] == code


def test_missing_field_and_size_limit(make_app: AppFactory) -> None:
    client = make_app(max_upload_bytes=2048).test_client()
    answer = verify(client, b"GIF89a", field="selfies")
    assert answer.status_code == 400 and answer.json["error"]["code"] == "missing_file"
    answer = verify(client, b"GIF89a" + b"\x00" * 4096)
    assert answer.status_code == 413 and answer.json["error"]["code"] == "too_large"
    # the next good request still works
    assert verify(client, b"GIF89a\x01\x00").json["error"]["code"] == "bad_image"
