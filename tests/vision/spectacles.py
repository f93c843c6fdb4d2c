"""Spectacles drawn on a face from its 68 landmarks, for the occluder tests: two
elliptic rims around the eyes, a bridge across the nose and temples towards the ears."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame
from server.vision import shape


def draw_glasses(
    image: Frame,
    lm: NDArray[np.floating],
    colour: tuple[int, int, int] = (30, 28, 26),
    thickness: float = 0.05,
) -> tuple[Frame, NDArray[np.bool_]]:
    """A copy of ``image`` wearing glasses, and the mask of the drawn frames.
    ``thickness``: of the frames, share of the inter-ocular distance."""
    lm = np.asarray(lm, np.float32)
    a, b = (np.asarray(c, np.float64) for c in shape.eye_centres(lm))
    iod = float(np.linalg.norm(b - a))
    ux = (b - a) / iod
    uy = np.array([-ux[1], ux[0]])
    angle = float(np.degrees(np.arctan2(ux[1], ux[0])))
    width = max(2, int(round(thickness * iod)))
    axes = (int(round(0.42 * iod)), int(round(0.3 * iod)))
    mask = np.zeros(image.shape[:2], np.uint8)
    for centre in (a + 0.03 * iod * uy, b + 0.03 * iod * uy):
        c = (int(round(centre[0])), int(round(centre[1])))
        cv2.ellipse(mask, c, axes, angle, 0, 360, 1, width, cv2.LINE_AA)
    bridge_y = -0.05 * iod * uy
    p0, p1 = a + 0.42 * iod * ux + bridge_y, b - 0.42 * iod * ux + bridge_y
    outer = 0.42 * iod * ux - 0.1 * iod * uy
    segments = [(p0, p1), (a - outer, a - 2 * outer), (b + outer, b + 2 * outer)]
    for s, e in segments:
        start, end = tuple(int(round(v)) for v in s), tuple(int(round(v)) for v in e)
        cv2.line(mask, start, end, 1, width, cv2.LINE_AA)
    out = image.copy()
    out[mask > 0] = colour
    return out, mask > 0
