"""Axis-aligned boxes: around points, clipped, intersected, compared."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from server.types import Box


def clip_box(box: Box, width: int, height: int) -> Box:
    return intersect(box, Box(0, 0, width, height))


def intersect(a: Box, b: Box) -> Box:
    """The part of ``a`` inside ``b`` (width or height <= 0 when they do not meet)."""
    return Box(
        max(a.left, b.left), max(a.top, b.top), min(a.right, b.right), min(a.bottom, b.bottom)
    )


def points_box(points: NDArray[np.floating], margin: float = 0.0) -> Box:
    """Integer box around points, grown by ``margin`` pixels on every side."""
    lo = np.floor(np.min(points, axis=0) - margin).astype(int)
    hi = np.ceil(np.max(points, axis=0) + margin).astype(int) + 1
    return Box(int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (left, top, right, bottom) boxes."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
