"""Lifting an underexposed selfie's face (:mod:`server.vision.exposure`): its noise is
measured right, a dark photo is brought back to a normal face's light, colour and
grain, and a face in fair light, dark skin included, is left as it is. (That the
lifted face renders like the well-exposed one is checked end to end in
tests/engines/test_dark_selfie.py.)"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from server.faces.identity import build_identity
from server.types import Frame
from server.vision import exposure
from server.vision.masks import hull_mask
from tests.render.samples import astronaut, dlib_models, t1_face
from tools.hard_set import underexposed


def texture(image: Frame) -> tuple[Frame, np.ndarray]:
    identity = build_identity([image], dlib_models())
    return identity.texture, identity.landmarks


def chroma(image: Frame, lm: np.ndarray) -> float:
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2Lab).astype(np.float32)
    inside = hull_mask(image.shape[:2], lm[:27])
    return float(np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)[inside].mean())


def grain(image: Frame, lm: np.ndarray) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return exposure.noise_level(grey, hull_mask(image.shape[:2], lm[:27]))


@pytest.mark.parametrize("sigma", [2.0, 4.0, 8.0])
def test_the_noise_estimate_reads_added_noise_over_smooth_shading(sigma: float) -> None:
    y, x = np.mgrid[0:200, 0:200].astype(np.float32)
    shading = 60 + 0.4 * x + 0.2 * y + 20 * np.sin(x / 40.0)  # lit, not flat
    noisy = shading + np.random.default_rng(1).normal(0.0, sigma, shading.shape)
    grey = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    found = exposure.noise_level(grey, np.ones(grey.shape, bool))
    assert abs(found - sigma) < 0.15 * sigma, found
    assert exposure.noise_level(np.clip(shading, 0, 255).astype(np.uint8), grey > 0) < 0.5


@pytest.mark.parametrize("face", ["astronaut", "david"])
def test_a_dark_noisy_photo_gets_back_the_light_colour_and_grain_of_a_good_one(face: str) -> None:
    image = astronaut() if face == "astronaut" else t1_face("david")
    good, lm = texture(image)
    dark = underexposed(good, lm)  # a third of the exposure, sensor noise
    assert exposure.face_lightness(dark, lm) < exposure.DARK_FACE
    lifted = exposure.lift_dark(dark, lm)
    assert exposure.face_lightness(lifted, lm) > 0.8 * exposure.face_lightness(good, lm)
    # the colour the dark photo lost comes back, and the lift's noise is smoothed away
    assert chroma(dark, lm) < 0.6 * chroma(good, lm)
    assert chroma(lifted, lm) > 0.8 * chroma(good, lm)
    # (lifted without the smoothing, the grain is 10 times the good photo's)
    assert grain(lifted, lm) < 2.0 * grain(good, lm), grain(lifted, lm)


def test_faces_in_fair_light_are_left_as_they_are() -> None:
    """A normal photo, and the same face at a mean lightness of 30: the darkest skin
    tones in fair light are about that dark, and must not be brightened."""
    good, lm = texture(astronaut())
    assert exposure.lift_dark(good, lm) is good
    scaled = [np.clip(good * k, 0, 255).astype(np.uint8) for k in np.arange(0.3, 0.7, 0.02)]
    darker = min(scaled, key=lambda d: abs(exposure.face_lightness(d, lm) - 30.0))
    assert 28.0 < exposure.face_lightness(darker, lm) < 32.0
    assert exposure.lift_dark(darker, lm) is darker


def test_a_glint_on_a_dark_face_is_not_darkened() -> None:
    """A dark face with a white reflection (more than 1 % of it, so its 99th
    percentile is already white): the lift never turns into a darkening gain."""
    good, lm = texture(astronaut())
    dark = underexposed(good, lm)
    centre = tuple(int(v) for v in lm[29])
    radius = int(0.07 * (lm[16, 0] - lm[0, 0]))
    cv2.circle(dark, centre, radius, (255, 255, 255), -1)
    lifted = exposure.lift_dark(dark, lm)
    assert exposure.face_lightness(lifted, lm) > exposure.face_lightness(dark, lm) + 10
    spot = np.zeros(dark.shape[:2], np.uint8)
    cv2.circle(spot, centre, radius - 3, 1, -1)
    assert lifted[spot > 0].min() >= 250
