"""The whole path with the real identity builder, catalog, engine and pipeline:
selfie -> identity -> render -> poll -> download, timing and loop kept."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from PIL import Image

from tests.api.conftest import TEMPLATE_ID, AppFactory, upload

RENDER_TIMEOUT_S = 120.0


def gif_timing(data: bytes) -> tuple[int, list[int], int | None]:
    """(frame count, per-frame durations in ms, loop) as Pillow reads them."""
    with Image.open(io.BytesIO(data)) as im:
        durations = []
        for index in range(im.n_frames):
            im.seek(index)
            durations.append(int(im.info["duration"]))
        return im.n_frames, durations, im.info.get("loop")


def wait_done(client: Any, status_url: str) -> dict[str, Any]:
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    progress_seen = []
    while True:
        body = client.get(status_url).json
        progress_seen.append(body["progress"])
        if body["status"] in ("done", "failed"):
            assert progress_seen == sorted(progress_seen)  # never goes backwards
            return dict(body)
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def test_gif_render_keeps_frames_timing_and_loop(
    make_app: AppFactory, face_jpeg: bytes, catalog: Any
) -> None:
    client = make_app().test_client()
    identity = upload(client, face_jpeg).json["id"]
    accepted = client.post(
        "/v1/renders", json={"identity_id": identity, "template_id": TEMPLATE_ID}
    )
    assert accepted.status_code == 202, accepted.json
    done = wait_done(client, accepted.json["status_url"])
    assert done["status"] == "done", done["error"]
    with client.get(done["result_url"]) as response:
        assert response.status_code == 200 and response.mimetype == "image/gif"
        data = response.data
    source = catalog.get(TEMPLATE_ID).source_path.read_bytes()
    assert gif_timing(data) == gif_timing(source)
    assert gif_timing(data)[0] == 6

    again = client.post("/v1/renders", json={"identity_id": identity, "template_id": TEMPLATE_ID})
    assert again.status_code == 200 and again.json["id"] == accepted.json["id"]


@pytest.mark.parametrize(("fmt", "mimetype", "magic"), [
    ("mp4", "video/mp4", b"ftyp"), ("webp", "image/webp", b"WEBP"),
])  # fmt: skip
def test_other_formats(
    make_app: AppFactory, face_jpeg: bytes, fmt: str, mimetype: str, magic: bytes
) -> None:
    client = make_app().test_client()
    identity = upload(client, face_jpeg).json["id"]
    body = {"identity_id": identity, "template_id": TEMPLATE_ID, "format": fmt}
    done = wait_done(client, client.post("/v1/renders", json=body).json["status_url"])
    assert done["status"] == "done", done["error"]
    with client.get(done["result_url"]) as response:
        assert response.mimetype == mimetype
        assert response.data[4:8] == magic or response.data[8:12] == magic
