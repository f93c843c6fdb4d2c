"""Brows and eyes keep their contrast against the skin when the colour transfer
flattens a face's lightness.

The transfer scales the selfie's lightness about its skin's mean by the template's
spread over the selfie's (bounded below by ``ClassicOptions.light_gain_min``). A clip
lit flat and evenly has a small spread, and the gain falls to 0.4 or so: the selfie's
left-over light is flattened, as it should be, and so are its brows, lashes and
irises, which came out grey and washed out. Their depth below the skin round them is
the face's own, not light: here each keeps at least ``least`` of it after the gain.
Nostrils and lips are left as they are (nostrils are mostly shading, and the lips have
their own tempering, see :func:`face_parts.tamed_lips`).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.vision import face_parts, shape
from server.vision.masks import hull_mask

# The skin's lightness round a feature: its smoothing, share of the inter-ocular distance.
SCALE = 0.15


def kept(
    lab: NDArray[np.float32], points: NDArray[np.float32], gain: float, least: float
) -> NDArray[np.float32]:
    """``lab`` (a face texture, Lab; ``points``: its 68 landmarks, with or without the
    forehead row) with brows and eyes deepened so that after a lightness gain of
    ``gain`` they lie at least ``least`` of their depth below the skin round them."""
    if gain >= least:
        return lab
    pts = np.asarray(points, np.float32)
    size = lab.shape[:2]
    iod = shape.interocular(pts[:68])
    light = lab[:, :, 0]
    skin = hull_mask(size, pts) * (1.0 - face_parts.feature_mask(size, pts))
    sigma = SCALE * iod
    norm = cv2.GaussianBlur(skin, (0, 0), sigma) + 1e-3
    around = cv2.GaussianBlur(light * skin, (0, 0), sigma) / norm
    features = face_parts.feature_mask(size, pts, parts=("brows", "eyes"))
    depth = np.minimum(light - around, 0.0) * features
    out = lab.copy()
    out[:, :, 0] += (least / gain - 1.0) * depth
    return out
