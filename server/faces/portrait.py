"""The head-and-shoulders portrait an identity keeps for motion renders.

Cut from the chosen selfie around its face (room above the head, shoulders below),
clipped to the picture (never padded), at most ``PORTRAIT_MAX_SIDE`` px on the longer
side. It is made from decoded pixels, so nothing of the upload's metadata (EXIF) follows.
"""

from __future__ import annotations

import cv2
import numpy as np

from server.types import Frame, Landmarks68

PORTRAIT_MAX_SIDE = 512
# Extent around the eyes' midpoint, in inter-ocular distances (IOD).
HALF_WIDTH, ABOVE, BELOW = 3.2, 3.0, 4.6


def head_and_shoulders(
    image: Frame, landmarks: Landmarks68, max_side: int = PORTRAIT_MAX_SIDE
) -> tuple[Frame, Landmarks68]:
    """The portrait (BGR uint8, longer side <= ``max_side``) and its 68 landmarks."""
    pts = np.asarray(landmarks, np.float64)
    eyes = (pts[36:42].mean(0) + pts[42:48].mean(0)) / 2
    iod = float(np.linalg.norm(pts[42:48].mean(0) - pts[36:42].mean(0)))
    h, w = image.shape[:2]
    left = int(max(0, np.floor(eyes[0] - HALF_WIDTH * iod)))
    right = int(min(w, np.ceil(eyes[0] + HALF_WIDTH * iod)))
    top = int(max(0, np.floor(eyes[1] - ABOVE * iod)))
    bottom = int(min(h, np.ceil(eyes[1] + BELOW * iod)))
    crop = image[top:bottom, left:right]
    scale = min(1.0, max_side / max(crop.shape[:2]))
    if scale < 1.0:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA), np.uint8)
        sx, sy = size[0] / (right - left), size[1] / (bottom - top)
    else:
        sx = sy = 1.0
    moved = (pts - (left, top)) * (sx, sy)
    return np.ascontiguousarray(crop, np.uint8), moved.astype(np.float32)
