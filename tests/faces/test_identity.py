"""Identity building (server.faces.identity) on faces shipped inside installed packages:
every refusal code, the astronaut's weak false positive, the choice of texture selfie,
and an EXIF-rotated upload decoded like the API does."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from server.faces.dlib_models import DlibFaceModels, descriptor_distance
from server.faces.identity import (
    MIN_FACE_PX,
    SAME_PERSON,
    TEXTURE_EYES_Y,
    TEXTURE_IOD,
    TEXTURE_SIZE,
    FaceError,
    aligned_texture,
    build_identity,
)
from server.types import Frame
from server.vision import shape
from server.vision.image_io import decode_upload
from tests.render.samples import astronaut, dlib_models, insightface_image, t1_face, tom_hanks


@pytest.fixture(scope="module")
def models() -> DlibFaceModels:
    return dlib_models()


def refusal(images: list[Frame], models: DlibFaceModels) -> FaceError:
    with pytest.raises(FaceError) as info:
        build_identity(images, models)
    return info.value


def turned(image: Frame, squeeze: float = 0.65, axis_x: int = 220) -> Frame:
    """The face's image-right half squeezed horizontally, as a head turned away
    foreshortens it (dlib's landmarks follow; the person stays the same)."""
    h, w = image.shape[:2]
    mx, my = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    right = mx > axis_x
    mx[right] = axis_x + (mx[right] - axis_x) / squeeze
    out = cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(out, np.uint8)


def test_identity_from_one_clear_selfie(models: DlibFaceModels) -> None:
    identity = build_identity([astronaut()], models)
    assert identity.texture.shape == (TEXTURE_SIZE, TEXTURE_SIZE, 3)
    left, right = shape.eye_centres(identity.landmarks)
    np.testing.assert_allclose([left[1], right[1]], TEXTURE_EYES_Y, atol=0.5)  # eyes level
    assert np.linalg.norm(right - left) == pytest.approx(TEXTURE_IOD, abs=0.5)
    assert identity.descriptors.shape == (1, 128)
    np.testing.assert_allclose(identity.descriptor, identity.descriptors[0])
    (report,) = identity.selfies
    assert report.used_as_texture and report.frontality > 0.9 and report.face_size >= 90
    assert identity.quality["texture_selfie"] == 0 and report.usable
    # her broad smile parts the lips over her teeth; nothing else is wrong
    codes = {w["code"] for w in identity.quality["warnings"]}  # type: ignore[attr-defined]
    assert codes <= {"mouth_open", "teeth_showing"}


def test_the_astronauts_weak_false_positive_is_not_a_second_face(models: DlibFaceModels) -> None:
    image = astronaut()
    found = models.detect(image, min_face=48, max_side=1280)  # what build_identity looks at
    assert len(found) == 2 and found[1].score < 0.2 < 1.0 < found[0].score  # the precondition
    identity = build_identity([image], models)
    assert identity.selfies[0].face_box == found[0].box


def test_no_face(models: DlibFaceModels) -> None:
    yy, xx = np.mgrid[0:160, 0:200]
    plain = np.stack([xx, yy, xx * 0 + 120], -1).astype(np.uint8)  # a gradient wall
    error = refusal([astronaut(), plain], models)
    assert error.code == "no_face" and error.selfie_index == 1


def test_multiple_faces_in_a_group_photo(models: DlibFaceModels) -> None:
    error = refusal([insightface_image("t1.jpg")], models)
    assert error.code == "multiple_faces" and error.selfie_index == 0
    assert "6 faces" in error.message


def test_face_too_small(models: DlibFaceModels) -> None:
    image = astronaut()
    small = np.ascontiguousarray(
        cv2.resize(image, None, fx=0.55, fy=0.55, interpolation=cv2.INTER_AREA)
    )
    (face,) = [f for f in models.detect(small, min_face=48, max_side=1280) if f.score > 0.5]
    assert 48 <= face.box.width < MIN_FACE_PX  # found, but below the limit
    error = refusal([small], models)
    assert error.code == "face_too_small" and error.selfie_index == 0


def test_identity_mismatch_between_two_people(models: DlibFaceModels) -> None:
    error = refusal([astronaut(), t1_face("david")], models)
    assert error.code == "identity_mismatch" and error.selfie_index == 1
    assert f">= {SAME_PERSON}" in error.message


def test_the_most_frontal_sharp_selfie_becomes_the_texture(models: DlibFaceModels) -> None:
    sharp = astronaut()
    side = turned(sharp)
    soft = np.ascontiguousarray(cv2.GaussianBlur(sharp, (0, 0), 2.5))
    identity = build_identity([side, sharp, soft], models)
    reports = identity.selfies
    # the inputs are what they claim to be
    assert reports[0].frontality < reports[1].frontality - 0.2
    assert reports[2].sharpness < reports[1].sharpness - 0.2
    assert float(identity.quality["max_pair_distance"]) < SAME_PERSON  # type: ignore[arg-type]
    assert [r.used_as_texture for r in reports] == [False, True, False]
    assert identity.quality["texture_selfie"] == 1
    expected, _ = aligned_texture(
        sharp, models.detect(sharp, min_face=48, max_side=1280)[0].landmarks
    )
    np.testing.assert_array_equal(identity.texture, expected)
    np.testing.assert_allclose(identity.descriptor, identity.descriptors.mean(0), rtol=1e-6)


def test_a_turned_selfie_is_used_with_a_warning(models: DlibFaceModels) -> None:
    identity = build_identity([tom_hanks()], models)
    assert identity.selfies[0].frontality < 0.45 and identity.selfies[0].usable
    warnings = identity.quality["warnings"]
    assert isinstance(warnings, list)
    assert {
        "code": "head_turned",
        "message": "Face the camera",
        "selfie": 0,
        "blocking": False,
    } in warnings


def test_exif_rotated_upload_still_works(models: DlibFaceModels) -> None:
    upright = astronaut()
    stored = Image.fromarray(np.ascontiguousarray(upright[:, :, ::-1])).transpose(
        Image.Transpose.ROTATE_90
    )  # pixels stored sideways, as a phone held on its side writes them
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    buf = io.BytesIO()
    stored.save(buf, "JPEG", quality=95, exif=exif)
    raw = np.ascontiguousarray(np.asarray(stored)[:, :, ::-1])
    assert models.detect(raw, use_cnn=False) == []  # sideways, HOG sees no face
    frame = decode_upload(buf.getvalue(), 10 * 1024 * 1024, 40_000_000)
    assert frame.shape == upright.shape
    assert np.abs(frame.astype(int) - upright).mean() < 4  # upright again (JPEG aside)
    identity = build_identity([frame], models)
    reference = build_identity([upright], models)
    assert descriptor_distance(identity.descriptor, reference.descriptor) < 0.1


def test_identity_keeps_a_head_and_shoulders_portrait(models: DlibFaceModels) -> None:
    """Motion renders animate the chosen selfie's portrait: at most 512 px, the head
    with room around it, and its landmarks where dlib finds them on the portrait."""
    big = cv2.resize(astronaut(), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    identity = build_identity([np.ascontiguousarray(big, np.uint8)], models)
    portrait, marks = identity.portrait, identity.portrait_landmarks
    assert portrait is not None and marks is not None
    assert portrait.dtype == np.uint8 and max(portrait.shape[:2]) <= 512
    h, w = portrait.shape[:2]
    assert marks.shape == (68, 2) and (marks >= 0).all() and (marks < (w, h)).all()
    iod = float(np.linalg.norm(marks[42:48].mean(0) - marks[36:42].mean(0)))
    assert w >= 4 * iod or w == big.shape[1] // 2  # the head and some background
    found = models.detect(portrait, use_cnn=False)
    assert len(found) == 1
    assert np.abs(found[0].landmarks - marks).mean() < 0.05 * iod
