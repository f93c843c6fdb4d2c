"""A shut eyelid painted over an eye squeezed shut by a warp: the skin round the eye
carried over it, and a soft lash line where the lids meet. Squeezed, an open eye's
texture becomes a smear (a white sliver, the iris and lashes pressed into a line);
the motion animator and the swap engine both close eyes this way.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame
from server.vision.layers import Box, box_around, composite, mix, polygon

SS = 4  # supersampling for smooth edges
LID_GROW = 0.14  # a shut lid reaches this share of the eye's width past its points


def paint_shut_lid(frame: Frame, eye: NDArray[np.float64], closed: float) -> None:
    """An eyelid over what is left of a closing eye, then a soft lash line (``eye``:
    its 6 landmarks in dlib's 36-41 order; ``closed`` 0..1, nothing below 0.3, the lid
    whole from 0.7). In place."""
    if closed < 0.3:
        return
    # Grown past the points: the lashes and the white rim squeezed around them.
    grow = LID_GROW * float(np.ptp(eye[:, 0]))
    box = box_around(frame, eye, int(np.ceil(grow)) + 3)
    if box is None:
        return
    x0, y0, x1, y1 = box
    size = ((x1 - x0) * SS, (y1 - y0) * SS)
    local = (eye - (x0, y0)) * SS
    radius = max(2, int(grow * SS))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    shape = polygon(size, local)
    cv2.polylines(shape, [np.round(local).astype(np.int32)], True, 1.0, thickness=SS)
    cover = cv2.GaussianBlur(cv2.dilate(shape, kernel), (0, 0), 0.7 * SS) * float(
        np.clip((closed - 0.3) / 0.4, 0.0, 1.0)
    )
    where = cv2.resize(cover, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA) > 0.02
    if not where.any():
        return
    meet = (local[[0, 1, 2, 3]] + local[[0, 5, 4, 3]]) / 2  # where the lids meet
    line = np.zeros((size[1], size[0]), np.float32)
    pts = np.round(meet).astype(np.int32)
    cv2.polylines(line, [pts], False, 1.0, thickness=max(1, int(0.9 * SS)), lineType=cv2.LINE_AA)
    line = cv2.GaussianBlur(line, (0, 0), 0.4 * SS) * float(np.clip(closed - 0.4, 0, 0.6)) * 1.3
    lid = _lid_fill(frame, box, where)
    colour = cv2.resize(lid, size, interpolation=cv2.INTER_LINEAR)
    lash = np.median(lid[where], axis=0) * 0.45
    colour = mix(colour, lash, line / np.maximum(cover + line, 1e-3))
    composite(frame, box, colour, np.clip(cover + line, 0, 1))


def _lid_fill(frame: Frame, box: Box, where: NDArray[np.bool_]) -> NDArray[np.float32]:
    """The skin round a closing eye carried over it (``where``: where the lid goes, on
    ``box``), inpainted from the lid above and the skin below (Telea's fast marching),
    so a shut lid takes their colour and shading. One colour for the whole lid (the
    skin just above it) brought the lashes, eye shadow and a painting's grey socket
    shading with it: a flat grey shape with the squeezed eye's dark rim round it."""
    x0, y0, x1, y1 = box
    region = np.ascontiguousarray(frame[y0:y1, x0:x1])
    return np.asarray(cv2.inpaint(region, where.astype(np.uint8), 3, cv2.INPAINT_TELEA), np.float32)
