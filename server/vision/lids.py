"""A shut eyelid painted over an eye squeezed shut by a warp: one colour, the skin's
just above the upper lid, and a soft lash line where the lids meet. Squeezed, an open
eye's texture becomes a smear (a white sliver, the iris and lashes pressed into a
line); the motion animator, the authoring puppet and the swap engine all close eyes
this way.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame
from server.vision.layers import box_around, composite, mix, polygon

SS = 4  # supersampling for smooth edges
LID_GROW = 0.07  # the lid reaches this share of the eye's width past its points


def paint_shut_lid(
    frame: Frame, eye: NDArray[np.float64], closed: float, skin: NDArray[np.float64] | None = None
) -> None:
    """An eyelid over what is left of a closing eye, then a soft lash line (``eye``:
    its 6 landmarks in dlib's 36-41 order; ``closed`` 0..1, nothing below 0.3, the lid
    whole from 0.7). ``skin``: a BGR colour for when there is no skin above the eye to
    take the lid's from. In place."""
    if not closed >= 0.3:  # NaN too
        return
    box = box_around(frame, eye, 5)
    if box is None:
        return
    x0, y0, x1, y1 = box
    size = ((x1 - x0) * SS, (y1 - y0) * SS)
    local = (eye - (x0, y0)) * SS
    # Grown past the points: the lashes and the white rim squeezed around them.
    radius = max(2, int(LID_GROW * np.ptp(local[:, 0])))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    shape = polygon(size, local)
    cv2.polylines(shape, [np.round(local).astype(np.int32)], True, 1.0, thickness=SS)
    cover = cv2.GaussianBlur(cv2.dilate(shape, kernel), (0, 0), 0.7 * SS) * float(
        np.clip((closed - 0.3) / 0.4, 0.0, 1.0)
    )
    meet = (local[[0, 1, 2, 3]] + local[[0, 5, 4, 3]]) / 2  # where the lids meet
    line = np.zeros((size[1], size[0]), np.float32)
    pts = np.round(meet).astype(np.int32)
    cv2.polylines(line, [pts], False, 1.0, thickness=max(1, int(0.9 * SS)), lineType=cv2.LINE_AA)
    line = cv2.GaussianBlur(line, (0, 0), 0.4 * SS) * float(np.clip(closed - 0.4, 0, 0.6)) * 1.3
    lid_colour = _lid_colour(frame, eye, skin, box)
    colour = np.empty((size[1], size[0], 3), np.float32)
    colour[:] = lid_colour
    colour = mix(colour, lid_colour * 0.45, line / np.maximum(cover + line, 1e-3))
    composite(frame, box, colour, np.clip(cover + line, 0, 1))


def _lid_colour(
    frame: Frame,
    eye: NDArray[np.float64],
    skin: NDArray[np.float64] | None,
    box: tuple[int, int, int, int],
) -> NDArray[np.float64]:
    """Median colour of the skin just above the upper lid (what a closed lid looks
    like); without any, ``skin`` darkened, or the eye box's median."""
    upper = eye[[0, 1, 2, 3]]
    lift = np.array([0.0, 0.22 * float(np.ptp(eye[:, 0]))])
    band = np.round(np.concatenate([upper - lift * 0.3, upper[::-1] - lift])).astype(np.int32)
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [band], 1)
    pixels = frame[mask > 0]
    if len(pixels) >= 4:
        return np.median(pixels, axis=0).astype(np.float64)
    if skin is not None:
        return np.asarray(skin, np.float64) * 0.8
    x0, y0, x1, y1 = box
    return np.median(frame[y0:y1, x0:x1].reshape(-1, 3), axis=0).astype(np.float64)
