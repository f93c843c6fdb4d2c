"""A selfie taken in the dark renders like the same selfie taken in good light: the
classic engine lifts its face and smooths the noise the lift brings up
(:mod:`server.vision.exposure`). Without that, the colour match's bounded contrast
gain leaves the face flat, grey and grainy."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from server.engines.classic import ClassicOptions
from server.gif_templates.catalog import Template
from server.types import Frame
from server.vision import exposure, masks
from tests.engines.test_classic_look import FRAMES, landmarks, placed, still_template, swapped
from tests.render.samples import astronaut, t1_face
from tools.hard_set import underexposed

# the same lips for all, so that the outputs differ by the face's light alone
LIPS = "always"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return still_template(placed(t1_face("jennifer")), tmp_path_factory.mktemp("dark"), "plain")


def grain(frame: Frame, inside: np.ndarray) -> float:
    return exposure.noise_level(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), inside)


def lab(frame: Frame) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_BGR2Lab).astype(np.float32)


@pytest.mark.parametrize("face", ["astronaut", "david"])
def test_a_dark_noisy_selfie_renders_like_the_well_lit_one(template: Template, face: str) -> None:
    good = astronaut() if face == "astronaut" else t1_face("david")
    dark = underexposed(good, None)
    well = swapped(template, good, ClassicOptions(template_lips=LIPS))
    lifted = swapped(template, dark, ClassicOptions(template_lips=LIPS))
    flat = swapped(template, dark, ClassicOptions(template_lips=LIPS, lift_dark=False))
    for i in range(0, FRAMES, 2):
        inside = masks.hull_mask(well[i].shape[:2], landmarks(template, i)[:27])
        apart_lifted = np.abs(lab(lifted[i]) - lab(well[i]))[inside].mean(0)
        apart_flat = np.abs(lab(flat[i]) - lab(well[i]))[inside].mean(0)
        # lightness (its contrast) and colour: 4-5 and 1-3 Lab units off, against 10-11
        # and 1.6-5 unlifted
        assert apart_lifted[0] < 0.6 * apart_flat[0], (i, apart_lifted, apart_flat)
        assert apart_lifted[2] < 0.9 * apart_flat[2], (i, apart_lifted, apart_flat)
        noise = [grain(out[i], inside) for out in (lifted, well, flat)]
        assert noise[0] < 1.15 * noise[1] < noise[2], (i, noise)


def test_the_lift_leaves_a_well_lit_selfie_untouched(template: Template) -> None:
    good = t1_face("david")
    on = swapped(template, good, ClassicOptions())
    off = swapped(template, good, ClassicOptions(lift_dark=False))
    assert all(np.array_equal(a, b) for a, b in zip(on, off, strict=True))
