"""Motion renders end to end: selfie -> identity (with its portrait) -> motion template
render with the classic animator -> download; and the refusals around them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from server.storage.layout import DataLayout
from tests.api.conftest import AppFactory, fake_app, upload
from tests.api.template_library import MOTION_FRAMES, MOTION_ID
from tests.api.test_render_end_to_end import gif_timing, wait_done
from tests.api.test_verify import verify


def test_motion_render_animates_the_portrait(
    make_app: AppFactory, face_jpeg: bytes, catalog: Any
) -> None:
    client = make_app().test_client()
    identity = upload(client, face_jpeg).json["id"]
    body = {"identity_id": identity, "template_id": MOTION_ID, "engine": "auto"}
    accepted = client.post("/v1/renders", json=body)
    assert accepted.status_code == 202, accepted.json
    done = wait_done(client, accepted.json["status_url"])
    assert done["status"] == "done", done["error"]
    assert done["engine"] == "classic"
    with client.get(done["result_url"]) as response:
        assert response.status_code == 200 and response.mimetype == "image/gif"
        data = response.data
    motion = catalog.get(MOTION_ID).motion
    count, durations, loop = gif_timing(data)
    assert count == MOTION_FRAMES and durations == list(motion.durations_ms)
    assert loop in (0, None)
    with Image.open(io.BytesIO(data)) as im:
        width, height = im.size
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("L"), np.float64))
    assert max(width, height) <= 512 and height >= width  # head and shoulders, upright
    moved = [np.abs(f - frames[0]).mean() for f in frames]
    assert max(moved) > 0.5  # it moves
    border = int(0.08 * min(width, height))
    edge = np.ones(frames[0].shape, bool)
    edge[border:-border, border:-border] = False
    assert max(np.abs(f - frames[0])[edge].mean() for f in frames) <= 3.0  # border stays
    proof = verify(client, data).json  # marked as made here, like a swap
    assert proof["made_here"] is True and proof["render_id"] == done["id"]
    assert proof["labels"]["gif_comment"] is True


def test_identity_made_before_portraits_is_told_to_reupload(
    make_app: AppFactory, face_jpeg: bytes, tmp_path: Path
) -> None:
    client = fake_app(make_app).test_client()
    identity = upload(client, face_jpeg).json["id"]
    arrays = DataLayout(tmp_path / "data").identity_dir(identity) / "arrays.npz"
    with np.load(arrays, allow_pickle=False) as npz:
        kept = {k: npz[k] for k in npz.files if not k.startswith("portrait")}
    assert len(kept) < len(np.load(arrays).files)
    np.savez(arrays, **kept)  # as identities were stored before
    response = client.post("/v1/renders", json={"identity_id": identity, "template_id": MOTION_ID})
    assert response.status_code == 409
    error = response.json["error"]
    assert error["code"] == "identity_needs_reupload" and "upload" in error["message"]


def test_motion_engine_choice_and_tracks(make_app: AppFactory, face_jpeg: bytes) -> None:
    client = fake_app(make_app).test_client()
    identity = upload(client, face_jpeg).json["id"]
    neural = {"identity_id": identity, "template_id": MOTION_ID, "engine": "neural"}
    response = client.post("/v1/renders", json=neural)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "engine_unavailable"
    assert "neural" in response.json["error"]["message"]
    other = {"identity_id": identity, "template_id": MOTION_ID, "faces": {"1": identity}}
    response = client.post("/v1/renders", json=other)
    assert response.status_code == 422 and response.json["error"]["code"] == "unknown_track"
    classic = {"identity_id": identity, "template_id": MOTION_ID, "engine": "classic"}
    assert client.post("/v1/renders", json=classic).status_code == 202
