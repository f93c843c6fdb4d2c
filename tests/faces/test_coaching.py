"""Selfie coaching (server.faces.coaching) on faces shipped inside installed packages and
variants of them made with the puppet and drawing tools (tools.selfie_variants): each
check fires on the variant that shows its problem and stays quiet on the unedited face;
unusable selfies are refused with their reasons; the texture avoids warned selfies."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from server.faces.coaching import MESSAGES
from server.faces.dlib_models import DlibFaceModels
from server.faces.identity import FaceError, build_identity, selfie_report
from server.faces.selfie_measures import shape_residual
from server.types import Frame, SelfieReport
from tests.faces.selfies import base, variant
from tests.render.samples import dlib_models, t1_face

# The problems the unedited face must not be warned about (it shows none of them).
CLEAN_OF = ("mouth_open", "eyes_closed", "glasses", "face_covered", "blurry", "too_dark",
            "overexposed", "side_light", "head_turned", "head_tilted", "face_small")  # fmt: skip


@pytest.fixture(scope="module")
def models() -> DlibFaceModels:
    return dlib_models()


def report_of(image: Frame) -> SelfieReport:
    faces = dlib_models().detect(image, min_face=48, max_side=1280)
    assert faces, "dlib should find the face"
    return selfie_report(0, image, faces[0])


def codes(image: Frame) -> set[str]:
    return {str(w["code"]) for w in report_of(image).warnings}


def test_the_unedited_face_gets_none_of_these_warnings() -> None:
    found = codes(base()[0])
    assert not found & set(CLEAN_OF), found


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("mouth_open", "mouth_open"),
        ("eyes_closed", "eyes_closed"),
        ("glasses", "glasses"),
        ("tilted", "head_tilted"),
        ("turned", "head_turned"),
        ("dark", "too_dark"),
        ("overexposed", "overexposed"),
        ("side_light", "side_light"),
        ("small", "face_small"),
    ],
)
def test_each_check_fires_on_its_variant(name: str, code: str) -> None:
    assert code not in codes(base()[0])
    assert code in codes(variant(name))


def test_a_grey_face_blurred_by_4_px_is_blurry() -> None:
    image, lm = base()
    grey = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    iod = float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))
    k = 80.0 / iod  # 4 px at 80 px between the eyes
    scaled = np.ascontiguousarray(cv2.resize(grey, None, fx=k, fy=k), np.uint8)
    blurred = np.ascontiguousarray(cv2.GaussianBlur(scaled, (0, 0), 4.0), np.uint8)
    assert "blurry" not in codes(scaled)
    assert "blurry" in codes(blurred)


def test_warnings_carry_codes_messages_and_the_selfie() -> None:
    warnings = report_of(variant("mouth_open")).warnings
    (mouth,) = [w for w in warnings if w["code"] == "mouth_open"]
    assert mouth == {
        "code": "mouth_open",
        "message": "Close your mouth",
        "selfie": 0,
        "blocking": False,
    }
    assert all(w["message"] == MESSAGES[str(w["code"])] for w in warnings)


def test_a_face_masked_over_nose_and_mouth_is_unsuitable(models: DlibFaceModels) -> None:
    masked = variant("mask_blue")
    with pytest.raises(FaceError) as info:
        build_identity([masked], models)
    error = info.value
    assert error.code == "selfie_unsuitable" and error.reasons
    blocking = [r for r in error.reasons if r["blocking"]]
    assert blocking and {r["code"] for r in blocking} == {"face_covered"}
    assert "Uncover your face" in error.message


def test_an_unusable_selfie_is_skipped_when_another_is_usable(models: DlibFaceModels) -> None:
    identity = build_identity([variant("mask_blue"), base()[0]], models)
    assert [r.usable for r in identity.selfies] == [False, True]
    assert identity.quality["texture_selfie"] == 1
    warnings = identity.quality["warnings"]
    assert isinstance(warnings, list)
    assert any(w["selfie"] == 0 and w["blocking"] for w in warnings)


def test_the_texture_is_the_selfie_without_warnings(models: DlibFaceModels) -> None:
    identity = build_identity([variant("mouth_open"), variant("glasses"), base()[0]], models)
    assert [r.used_as_texture for r in identity.selfies] == [False, False, True]
    scores = [r.score for r in identity.selfies]
    assert scores[2] > max(scores[:2])


def test_landmarks_of_a_face_fit_the_mean_face_and_scrambled_ones_do_not() -> None:
    _, lm = base()
    assert shape_residual(lm) < 0.15
    scrambled = lm.copy()
    rng = np.random.default_rng(0)
    scrambled[:48] = lm[rng.permutation(48)]
    assert shape_residual(scrambled) > 0.3


def test_a_hard_side_lit_bearded_face_is_warned_not_refused(models: DlibFaceModels) -> None:
    """Shade darkens lips and skin alike; read as colour distance it looked like a mask
    (a false refusal). The side light is coached, the selfie stays usable."""
    face = t1_face("david")
    lm = dlib_models().detect(face, use_cnn=False)[0].landmarks
    mid, width = float(lm[27:31, 0].mean()), float(lm[16, 0] - lm[0, 0])
    x = np.arange(face.shape[1], dtype=np.float32)
    gain = 0.35 + 0.65 * np.clip((x - (mid - 0.2 * width)) / (0.4 * width), 0.0, 1.0)
    shaded = np.clip(face * gain[None, :, None] + 0.5, 0, 255).astype(np.uint8)
    identity = build_identity([shaded], models)
    assert identity.selfies[0].usable
    assert "side_light" in {str(w["code"]) for w in identity.selfies[0].warnings}
