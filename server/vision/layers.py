"""Painting small layers into a frame: a box round some points, polygons drawn
supersampled for smooth edges, colours mixed in float32 and the layer composited back
at the frame's resolution. Frames are BGR uint8, changed in place."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame

Box = tuple[int, int, int, int]  # x0, y0, x1, y1


def box_around(frame: Frame, pts: NDArray[np.float64], margin: int) -> Box | None:
    """The box round ``pts`` grown by ``margin`` px and clipped to ``frame``; None when
    less than 3 px is left either way."""
    h, w = frame.shape[:2]
    x0, y0 = (np.floor(pts.min(0)).astype(int) - margin).tolist()
    x1, y1 = (np.ceil(pts.max(0)).astype(int) + margin + 1).tolist()
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    return (x0, y0, x1, y1) if x1 - x0 >= 3 and y1 - y0 >= 3 else None


def polygon(size: tuple[int, int], pts: NDArray[np.float64]) -> NDArray[np.float32]:
    """A (h, w) float mask of ``size`` (w, h), 1 inside the polygon ``pts``."""
    mask = np.zeros((size[1], size[0]), np.float32)
    cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1.0, lineType=cv2.LINE_8)
    return mask


def mix(base: np.ndarray, top: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``base`` + (``top`` - ``base``) ``alpha``, in float32 (``alpha`` (h, w) or
    (h, w, 1))."""
    a = alpha[..., None] if alpha.ndim == 2 else alpha
    out = np.asarray(top, np.float32) - base
    out *= a
    out += base
    return out


def composite(frame: Frame, box: Box, colour: np.ndarray, alpha: np.ndarray) -> None:
    """Downsample a supersampled layer and blend it into ``frame`` inside ``box``."""
    x0, y0, x1, y1 = box
    small = cv2.resize(colour, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    a = cv2.resize(alpha, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)[..., None]
    region = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(region * (1 - a) + small * a, 0, 255).astype(np.uint8)
