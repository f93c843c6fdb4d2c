"""A greyscale selfie (an old print, a black-and-white filter) has no colour of its own:
a colour transfer gives its whole face the skin's hue, the lips and the whites of the
eyes included (brown lips, reddish eyes). The classic engine gives such a face's lips
and eyes the template's colour there."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from server.engines.classic import ClassicEngine, ClassicOptions
from server.faces.identity import build_identity
from server.types import Frame
from server.vision import masks
from tests.engines.test_classic_look import placed, still_template, swapped
from tests.render.samples import astronaut, dlib_models, t1_face


def grey(image: Frame) -> Frame:
    one = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return np.ascontiguousarray(cv2.cvtColor(one, cv2.COLOR_GRAY2BGR))


def lip_redness(frame: Frame) -> float:
    """How much redder (Lab a) the lips are than the cheeks, read by dlib on ``frame``."""
    lm = dlib_models().detect(frame, use_cnn=False)[0].landmarks
    size = frame.shape[:2]
    lips = masks.hull_mask(size, lm[48:60]) & ~masks.hull_mask(size, lm[60:68])
    cheeks = masks.hull_mask(size, lm[[1, 2, 3, 31, 40]])
    cheeks |= masks.hull_mask(size, lm[[15, 14, 13, 35, 47]])
    a = cv2.cvtColor(frame, cv2.COLOR_BGR2Lab)[..., 1].astype(np.float32)
    return float(a[lips].mean() - a[cheeks].mean())


def test_a_greyscale_selfie_is_told_apart() -> None:
    engine = ClassicEngine()
    face = t1_face("david")
    assert engine.prepare_identity(build_identity([grey(face)], dlib_models())).colourless
    assert not engine.prepare_identity(build_identity([face], dlib_models())).colourless


def test_a_greyscale_selfie_gets_the_template_lip_colour(tmp_path: Path) -> None:
    template = still_template(placed(astronaut()), tmp_path, "colour")
    wanted = [lip_redness(f) for f in template.animation().frames]
    got = [lip_redness(f) for f in swapped(template, grey(t1_face("david")), ClassicOptions())]
    print(
        "lips' redness over the cheeks: template", np.round(wanted, 1), "output", np.round(got, 1)
    )
    # With the skin's hue everywhere the lips read 0.7-0.8 (the template's 3.2-4.0).
    assert min(g / w for g, w in zip(got, wanted, strict=True)) > 0.6
