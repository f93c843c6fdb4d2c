"""Completing a turned selfie's far side by symmetry: a turned face's upright texture
becomes nearly symmetric about its midline (landmarks and pixels), a frontal one is
left exactly as it is."""

from __future__ import annotations

import cv2
import numpy as np

from server.faces.identity import aligned_texture
from server.vision import shape, symmetry
from tests.render.samples import astronaut, dlib_models
from tools.hard_set import turn


def _upright(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lm = dlib_models().detect(image, use_cnn=False)[0].landmarks
    return aligned_texture(image, lm)


def _asymmetry(tex: np.ndarray, lm: np.ndarray) -> float:
    """Mean absolute difference between the face and its mirror image about the
    midline, over the cheeks, eyes and brows (grey levels)."""
    c = float(lm[[27, 28, 57, 8], 0].mean())
    flip = np.array([[-1.0, 0.0, 2 * c], [0.0, 1.0, 0.0]])
    mirrored = cv2.warpAffine(tex, flip, tex.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)
    half = float(np.ptp(lm[:17, 0])) / 2
    mask = np.zeros(tex.shape[:2], bool)
    top, bottom = int(lm[17:27, 1].min()), int(lm[48:55, 1].min())
    mask[top:bottom, int(c - 0.8 * half) : int(c + 0.8 * half)] = True
    g = cv2.cvtColor(tex, cv2.COLOR_BGR2GRAY).astype(np.float32)
    gm = cv2.cvtColor(mirrored, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return float(np.abs(g - gm)[mask].mean())


def test_a_frontal_face_is_left_as_it_is() -> None:
    tex, lm = _upright(astronaut())
    assert symmetry.turn_weight(lm) == 0.0
    out, out_lm = symmetry.complete_far_side(tex, lm)
    assert out is tex and out_lm is lm


def test_a_turned_face_is_completed_from_its_near_side() -> None:
    image = astronaut()
    face = dlib_models().detect(image, use_cnn=False)[0].landmarks
    tex, lm = _upright(turn(35.0)(image, face))
    assert symmetry.turn_weight(lm) > 0.5
    assert shape.frontality(lm) < 0.5
    out, out_lm = symmetry.complete_far_side(tex, lm)
    # turned about 16 degrees here: the far side is mirrored in part (weight ~0.6)
    assert shape.frontality(out_lm) > shape.frontality(lm) + 0.25
    before, after = _asymmetry(tex, lm), _asymmetry(out, out_lm)
    assert after < 0.6 * before, (before, after)
    # the far eye, squeezed, widens towards the near one (part way at this weight)
    assert _eye_ratio(lm) < 0.85 and _eye_ratio(out_lm) > _eye_ratio(lm) + 0.06


def _eye_ratio(lm: np.ndarray) -> float:
    widths = [float(np.ptp(lm[eye, 0])) for eye in (shape.EYE_L, shape.EYE_R)]
    return min(widths) / max(widths)
