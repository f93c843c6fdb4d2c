from __future__ import annotations

import io
import re
from typing import Any

import cv2
import numpy as np
import pytest

from server.storage.ids import IDENTITY_ID_PATTERN
from server.types import Frame
from tests.api.conftest import AppFactory, fake_app, upload
from tests.conftest import encode_image, package_image
from tests.faces.selfies import variant
from tests.render.samples import dlib_models
from tests.vision.test_image_io import png_header_only
from tools.selfie_variants import glasses


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.json
    assert response.is_json
    error = response.json["error"]
    assert error["code"] == code and error["message"]
    return error


def test_create_read_delete(client: Any, face_jpeg: bytes) -> None:
    created = upload(client, face_jpeg)
    assert created.status_code == 201
    body = created.json
    assert re.fullmatch(IDENTITY_ID_PATTERN, body["id"])
    assert set(body) == {"id", "created_at", "expires_at", "selfies", "quality"}
    (selfie,) = body["selfies"]
    assert selfie["width"] == 512 and selfie["height"] == 512 and selfie["used_as_texture"]
    box = selfie["face_box"]
    assert 150 < box["left"] < box["right"] < 300  # the astronaut's face, not the suit
    assert created.headers["Location"].endswith(body["id"])

    assert client.get(f"/v1/identities/{body['id']}").json == body
    assert client.delete(f"/v1/identities/{body['id']}").status_code == 204
    assert_error(client.get(f"/v1/identities/{body['id']}"), 404, "identity_not_found")
    assert_error(client.delete(f"/v1/identities/{body['id']}"), 404, "identity_not_found")


def test_several_selfies_in_all_formats(client: Any, face_bgr: Frame) -> None:
    shifted = np.ascontiguousarray(np.roll(face_bgr, 12, axis=1))
    response = upload(
        client,
        (encode_image(face_bgr, "JPEG"), "a.jpg", "image/jpeg"),
        (encode_image(shifted, "PNG"), "b.png", "image/png"),
        (encode_image(face_bgr, "WEBP", quality=90), "c.webp", "application/octet-stream"),
    )
    assert response.status_code == 201, response.json
    assert [s["index"] for s in response.json["selfies"]] == [0, 1, 2]
    assert sum(s["used_as_texture"] for s in response.json["selfies"]) == 1


def test_exif_rotated_selfie_is_found_upright(client: Any, face_bgr: Frame) -> None:
    from PIL import Image

    # Stored lying on its side; EXIF orientation 6 says "rotate 90 clockwise to view".
    stored = np.ascontiguousarray(cv2.rotate(face_bgr, cv2.ROTATE_90_COUNTERCLOCKWISE))
    pil = Image.fromarray(stored[:, :, ::-1])
    exif = pil.getexif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    pil.save(buf, "JPEG", quality=92, exif=exif)
    response = upload(client, buf.getvalue())
    assert response.status_code == 201, response.json
    assert 150 < response.json["selfies"][0]["face_box"]["left"] < 300


def test_bad_image(client: Any, face_jpeg: bytes) -> None:
    error = assert_error(
        upload(client, face_jpeg, face_jpeg[: len(face_jpeg) // 2]), 400, "bad_image"
    )
    assert error["selfie_index"] == 1


def test_unsupported_type_is_sniffed_not_named(client: Any, face_bgr: Frame) -> None:
    gif = encode_image(face_bgr, "GIF")
    assert_error(upload(client, (gif, "me.jpg", "image/jpeg")), 415, "unsupported_type")
    # ...and a real PNG named .gif with a wrong content type is accepted
    png = encode_image(face_bgr, "PNG")
    assert upload(client, (png, "me.gif", "text/plain")).status_code == 201


def test_too_many_bytes(make_app: AppFactory) -> None:
    client = fake_app(make_app, max_upload_bytes=100_000).test_client()
    noisy = np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    big = encode_image(noisy, "PNG")
    assert len(big) > 100_000
    assert_error(upload(client, big), 413, "too_large")


def test_too_many_pixels_refused_from_the_header(client: Any) -> None:
    error = assert_error(upload(client, png_header_only(8000, 6000)), 413, "too_large")
    assert "pixels" in error["message"]


def test_whole_request_over_the_limit_is_json_413(make_app: AppFactory) -> None:
    client = fake_app(make_app, max_upload_bytes=2048, max_selfies=1).test_client()
    response = upload(client, b"\xff\xd8\xff" + b"x" * 2_000_000)
    assert_error(response, 413, "too_large")


def test_no_face(client: Any) -> None:
    ramp = np.repeat(np.linspace(60, 200, 160, dtype=np.uint8)[None, :, None], 160, 0)
    assert_error(upload(client, encode_image(np.repeat(ramp, 3, 2), "PNG")), 422, "no_face")


def test_multiple_faces(client: Any) -> None:
    group = encode_image(package_image("t1.jpg"), "JPEG")
    assert_error(upload(client, group), 422, "multiple_faces")


def test_face_too_small(client: Any, face_bgr: Frame) -> None:
    canvas = np.full((400, 400, 3), 200, np.uint8)
    small = cv2.resize(face_bgr, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    canvas[: small.shape[0], : small.shape[1]] = small
    assert_error(upload(client, encode_image(canvas, "PNG")), 422, "face_too_small")


def test_identity_mismatch(client: Any, face_jpeg: bytes) -> None:
    other = encode_image(package_image("Tom_Hanks_54745.png"), "PNG")
    error = assert_error(upload(client, face_jpeg, other), 422, "identity_mismatch")
    assert error["selfie_index"] == 1


def test_missing_field_and_wrong_bodies(client: Any) -> None:
    assert_error(client.post("/v1/identities"), 422, "consent_required")
    assert_error(client.post("/v1/identities", json={"selfies": []}), 422, "consent_required")
    assert_error(upload(client, field="selfies"), 400, "missing_selfies")
    wrong_field = upload(client, b"\xff\xd8\xff" * 10, field="photo")
    assert_error(wrong_field, 400, "missing_selfies")
    garbage = client.post(
        "/v1/identities",
        data=bytes(range(256)) * 64,
        content_type="multipart/form-data; boundary=xyz",
    )
    assert garbage.status_code in (400, 422) and garbage.is_json


def test_too_many_and_empty_files(client: Any, face_jpeg: bytes) -> None:
    assert_error(upload(client, *[face_jpeg] * 6), 400, "too_many_selfies")
    error = assert_error(upload(client, face_jpeg, b""), 400, "empty_file")
    assert error["selfie_index"] == 1


@pytest.mark.parametrize(
    "ident",
    ["..%2Fx", "..", "%00", "idt_%C3%A9", "x" * 5000, "idt_" + "0" * 24, "%2E%2E", "DROP%20TABLE"],
)
def test_malformed_or_unknown_ids_are_404(client: Any, ident: str) -> None:
    for method in (client.get, client.delete):
        response = method(f"/v1/identities/{ident}")
        assert response.status_code == 404 and response.is_json


def test_quality_warnings_are_coded_messages_per_selfie(client: Any, face_bgr: Frame) -> None:
    lm = dlib_models().detect(face_bgr, min_face=48, max_side=1280)[0].landmarks
    response = upload(
        client, encode_image(face_bgr, "PNG"), encode_image(glasses(face_bgr, lm), "PNG")
    )
    assert response.status_code == 201, response.json
    warnings = response.json["quality"]["warnings"]
    assert all(set(w) == {"code", "message", "selfie", "blocking"} for w in warnings)
    on_glasses = [w for w in warnings if w["selfie"] == 1 and w["code"] == "glasses"]
    assert on_glasses and on_glasses[0]["message"] == "Take off your glasses"
    assert response.json["quality"]["texture_selfie"] == 0
    assert [s["usable"] for s in response.json["selfies"]] == [True, True]


def test_unusable_selfie_is_422_with_the_reasons(client: Any) -> None:
    masked = variant("mask_blue")  # a face of t1.jpg under a surgical mask
    error = assert_error(upload(client, encode_image(masked, "PNG")), 422, "selfie_unsuitable")
    blocking = [r for r in error["reasons"] if r["blocking"]]
    assert blocking and blocking[0] == {
        "code": "face_covered",
        "message": "Uncover your face",
        "selfie": 0,
        "blocking": True,
    }
