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


def _wholly_turned(monkeypatch) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """The astronaut turned 35 degrees, upright, with this turn counted as a full one:
    texture, landmarks, the midline's x and whether the far side is the image-left."""
    monkeypatch.setattr(symmetry, "YAW_START", 2.0)
    monkeypatch.setattr(symmetry, "YAW_FULL", 8.0)
    image = astronaut()
    face = dlib_models().detect(image, use_cnn=False)[0].landmarks
    tex, lm = _upright(turn(35.0)(image, face))
    c = float(lm[[27, 28, 57, 8], 0].mean())
    return tex, lm, c, bool(lm[16, 0] - c > c - lm[0, 0])


def test_a_wholly_turned_face_gets_one_far_eye(monkeypatch) -> None:
    """Turned past ``YAW_FULL``, the far eye comes from the near side's mirror image:
    a blend with the original, stretched far eye shows two eyes, one a ghost. The
    original far half is tinted to tell where the far eye's pixels come from."""
    tex, lm, c, far_left = _wholly_turned(monkeypatch)
    assert symmetry.turn_weight(lm) == 1.0
    columns = np.arange(tex.shape[1])
    tinted = tex.astype(np.int16)
    tinted[:, columns < c if far_left else columns > c, 0] += 60
    plain, out_lm = symmetry.complete_far_side(tex, lm)
    marked, _ = symmetry.complete_far_side(np.clip(tinted, 0, 255).astype(np.uint8), lm)
    eye = np.zeros(tex.shape[:2], np.uint8)
    far_eye = out_lm[shape.EYE_L if far_left else shape.EYE_R]
    cv2.fillPoly(eye, [np.round(far_eye).astype(np.int32)], 1)
    share = float((marked[..., 0].astype(np.float32) - plain[..., 0])[eye > 0].mean() / 60)
    print(f"far eye taken from the original far side: {share:.2f}")
    assert share < 0.3


def _iris_place(tex: np.ndarray, eye: np.ndarray) -> float:
    """Where the dark iris sits across the eye, 0 at its image-left corner, 1 at the
    right: the centroid of the eye opening's darkest pixels."""
    mask = np.zeros(tex.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(eye).astype(np.int32)], 1)
    grey = cv2.cvtColor(tex, cv2.COLOR_BGR2GRAY).astype(np.float32)
    ys, xs = np.nonzero(mask)
    values = grey[ys, xs]
    dark = values <= np.quantile(values, 0.25)
    left, right = float(eye[:, 0].min()), float(eye[:, 0].max())
    return (float(xs[dark].mean()) - left) / (right - left)


def test_the_mirrored_far_eye_looks_the_same_way_as_the_near_one(monkeypatch) -> None:
    """A mirror turns a sideways gaze the other way: the completed far eye must look
    where the near eye looks, not away from it (a walleyed stare)."""
    tex, lm, _, far_left = _wholly_turned(monkeypatch)
    near = lm[shape.EYE_R if far_left else shape.EYE_L]
    # the near eye drawn looking to the image's right: white, its iris near the corner
    drawn = tex.copy()
    cv2.fillPoly(drawn, [np.round(near).astype(np.int32)], (235, 235, 235))
    left, right = float(near[:, 0].min()), float(near[:, 0].max())
    centre = (int(round(left + 0.75 * (right - left))), int(round(near[:, 1].mean())))
    cv2.circle(drawn, centre, max(2, int(0.2 * (right - left))), (30, 30, 30), -1)
    out, out_lm = symmetry.complete_far_side(drawn, lm)
    far = out_lm[shape.EYE_L if far_left else shape.EYE_R]
    near_after = out_lm[shape.EYE_R if far_left else shape.EYE_L]
    places = _iris_place(out, near_after), _iris_place(out, far)
    print(f"iris across the near eye {places[0]:.2f}, across the far eye {places[1]:.2f}")
    assert places[0] > 0.6 and places[1] > 0.6


def test_the_near_side_meets_its_mirror_image_without_a_step(monkeypatch) -> None:
    """A shadow on the nose's far flank (kept from the near side's texture) meets the
    mirrored cheek beyond the nose wing: blended over the narrow band alone, the shadow
    ended in a step there, a line beside the nose. Measured on the shadow's own change
    (completed with it minus without), the steepest change over 0.1 eye distances was
    0.40 of the shadow's depth before the broad tones were blended apart, 0.23 after."""
    tex, lm, c, far_left = _wholly_turned(monkeypatch)
    iod = shape.interocular(lm)
    wing = float(lm[31 if far_left else 35, 0])
    lo, hi = sorted([c, wing + (-0.2 if far_left else 0.2) * iod])
    x = np.arange(tex.shape[1], dtype=np.float32)
    gain = np.where((x >= lo) & (x <= hi), 0.7, 1.0).astype(np.float32)
    gain = cv2.GaussianBlur(gain[None, :], (0, 0), 2.0)[0]
    shadowed = np.clip(tex * gain[None, :, None], 0, 255).astype(np.uint8)
    plain, out_lm = symmetry.complete_far_side(tex, lm)
    dark, _ = symmetry.complete_far_side(shadowed, lm)

    def lightness(im: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(im, cv2.COLOR_BGR2Lab)[:, :, 0].astype(np.float32) * (100 / 255)

    change = cv2.GaussianBlur(lightness(dark) - lightness(plain), (0, 0), 1.0)
    rows = change[int(out_lm[36:48, 1].max()) : int(out_lm[48:55, 1].min())]
    k = max(2, int(0.1 * shape.interocular(out_lm)))
    at = int(round(out_lm[31 if far_left else 35, 0]))
    steps = np.abs(rows[:, k:] - rows[:, :-k]).mean(0)[at - 3 * k : at + 3 * k]
    depth = float(np.abs(rows).mean(0).max())
    print(f"steepest change {steps.max():.2f} L, shadow depth {depth:.2f} L")
    assert depth > 15.0
    assert steps.max() < 0.3 * depth
