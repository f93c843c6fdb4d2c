"""A generated selfie for coaching tests: a face of insightface's t1.jpg set upright,
and variants of it made with :mod:`tools.selfie_variants`."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from server.types import Frame, Landmarks68
from server.vision import shape
from tests.render.samples import dlib_models, t1_face
from tools import selfie_variants as sv


@functools.cache
def base() -> tuple[Frame, Landmarks68]:
    """A frontal face of insightface's t1.jpg as a selfie, turned upright (she leans her
    head in the photo), and its landmarks."""
    image = t1_face("jennifer")
    lm = dlib_models().detect(image, min_face=48, max_side=1280)[0].landmarks
    a, b = shape.eye_centres(lm)
    roll = float(np.degrees(np.arctan2(b[1] - a[1], b[0] - a[0])))
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((float(a[0] + b[0]) / 2, float(a[1] + b[1]) / 2), roll, 1.0)
    upright = np.ascontiguousarray(
        cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT), np.uint8
    )
    return upright, dlib_models().detect(upright, min_face=48, max_side=1280)[0].landmarks


def variant(name: str) -> Frame:
    image, lm = base()
    make, _ = sv.with_masks()[name]
    return make(image, lm)
