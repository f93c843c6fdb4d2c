"""Hostile and degenerate requests: clean 4xx answers, no paths leaked, limits kept for
chunked bodies, private results, and the next good request still works."""

from __future__ import annotations

import io
import logging
import re
import sys
from typing import Any

import numpy as np
import pytest
from PIL import Image

from server.api.redact import RedactPaths
from server.api.renders import MAX_JSON_BYTES
from tests.api.conftest import TEMPLATE_ID, AppFactory, fake_app, multipart, upload
from tests.api.test_renders import new_identity, poll, post_render
from tests.conftest import encode_image

ABSOLUTE_PATH = re.compile(r"(?<![\w:/])/(?:[\w.-]+/)+[\w.-]*")


def textured(width: int, height: int) -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (height, width, 3), dtype=np.uint8)


def animated_png() -> bytes:
    frames = [Image.fromarray(textured(64, 64)), Image.fromarray(textured(64, 64)[::-1])]
    buf = io.BytesIO()
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:])
    return buf.getvalue()


DEGENERATE = [
    (encode_image(textured(1, 1), "PNG"), 422, "too_small"),
    (encode_image(textured(2, 2), "JPEG"), 422, "too_small"),
    (encode_image(textured(1, 10000), "PNG"), 422, "too_small"),
    (encode_image(textured(3000, 6), "PNG"), 422, "too_small"),
    (encode_image(textured(2000, 100), "WEBP"), 422, "extreme_aspect"),
    (encode_image(np.full((300, 300, 3), 90, np.uint8), "PNG"), 422, "blank_image"),
    (animated_png(), 415, "animated_image"),
]


@pytest.mark.parametrize(("data", "status", "code"), DEGENERATE)
def test_degenerate_selfies_get_a_clean_4xx(
    client: Any, face_jpeg: bytes, data: bytes, status: int, code: str
) -> None:
    response = upload(client, face_jpeg, data)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert response.json["error"]["selfie_index"] == 1


def test_after_bad_inputs_the_next_good_upload_succeeds(client: Any, face_jpeg: bytes) -> None:
    for data, status, _ in DEGENERATE:
        assert upload(client, data).status_code == status
    assert upload(client, face_jpeg).status_code == 201


def chunked_post(client: Any, path: str, body: bytes, content_type: str) -> Any:
    """POST ``body`` without Content-Length, as a server hands a chunked body over."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        content_type=content_type,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_chunked_json_over_the_limit_is_413_not_truncated(client: Any) -> None:
    padding = " " * MAX_JSON_BYTES
    body = f'{{"identity_id": "idt_x",{padding} "template_id": "nope"}}'.encode()
    response = chunked_post(client, "/v1/renders", body, "application/json")
    assert response.status_code == 413, response.json
    assert response.json["error"]["code"] == "too_large"


def test_chunked_json_within_the_limit_is_read_whole(client: Any) -> None:
    body = b'{"identity_id": "idt_' + b"0" * 24 + b'", "template_id": "' + TEMPLATE_ID.encode()
    response = chunked_post(client, "/v1/renders", body + b'"}', "application/json")
    assert response.status_code == 404 and response.json["error"]["code"] == "identity_not_found"


def test_chunked_multipart_over_the_limit_is_413(make_app: AppFactory) -> None:
    client = fake_app(make_app, max_upload_bytes=64 * 1024, max_selfies=1).test_client()
    big = b"\xff\xd8\xff" + bytes(3 * 1024 * 1024)
    body, content_type = multipart("selfies", [(big, "a.jpg", "image/jpeg")])
    response = chunked_post(client, "/v1/identities", body, content_type)
    assert response.status_code == 413 and response.json["error"]["code"] == "too_large"


def test_results_are_private_and_never_sniffed(make_app: AppFactory, face_jpeg: bytes) -> None:
    client = fake_app(make_app).test_client()
    ident = new_identity(client, face_jpeg)
    body = post_render(client, identity_id=ident, template_id=TEMPLATE_ID).json
    done = poll(client, body["status_url"])
    with client.get(done["result_url"]) as result:
        assert result.status_code == 200
        cache = result.headers["Cache-Control"]
        assert "private" in cache and "public" not in cache
        assert result.headers["X-Content-Type-Options"] == "nosniff"
    error = client.get("/v1/renders/rnd_" + "0" * 24)
    assert error.headers["X-Content-Type-Options"] == "nosniff"


def test_readyz_and_errors_show_no_absolute_paths(make_app: AppFactory, tmp_path: Any) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.json").write_text("{not json")
    client = make_app(models_dir=models).test_client()
    ready = client.get("/readyz")
    assert str(tmp_path) not in ready.get_data(as_text=True)
    assert "manifest.json" in ready.get_data(as_text=True)  # still says which file
    conflict = post_render(
        client, identity_id="idt_" + "0" * 24, template_id=TEMPLATE_ID, engine="neural"
    )
    assert not ABSOLUTE_PATH.search(conflict.json["error"]["message"]), conflict.json


def test_log_lines_show_no_absolute_paths() -> None:
    try:
        open("/srv/faceloop/data/renders/x/record.json")  # noqa: SIM115
    except OSError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "cannot read %s", None, None)
        record.args = ("/srv/faceloop/data/renders/x/record.json",)
        record.exc_info = sys.exc_info()
    handler = logging.StreamHandler(io.StringIO())
    handler.addFilter(RedactPaths())
    handler.handle(record)
    text = handler.stream.getvalue()
    assert "cannot read record.json" in text and "Traceback" in text
    assert not ABSOLUTE_PATH.search(text), text
