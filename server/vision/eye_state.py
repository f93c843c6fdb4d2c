"""Whether a face's eyes are shut, from the picture rather than the landmarks.

dlib's 68 points often keep a gap between shut lids (about a quarter of the eye's
width on a blinking face), so the landmark gap alone cannot tell a shut eye from a
narrow one. The picture can: an open eye's iris and sclera make upright edges, a shut
eye shows only the level lash line and the lid crease. The share of horizontal over
vertical lightness gradient across the middle of the eye measures that, with no model
to train (the idea of gradient-orientation eye-state cues, written here for our crops).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame
from server.vision import shape

SHUT = 0.3  # mean edge ratio of the two eyes below which they read as shut
SHUT_BEHIND_GLASSES = 0.15  # frames add level edges: only the clearest shut eyes count
# A wink: one eye below WINK_SHUT and below WINK_SHARE of the other, on a face turned
# less than WINK_YAW degrees (beyond, the far eye is foreshortened and reads low).
WINK_SHUT, WINK_SHARE, WINK_YAW = 0.2, 0.55, 20.0


def edge_ratio(image: Frame, lm: NDArray[np.floating]) -> tuple[float, float]:
    """Per eye (image-left first), the energy of horizontal over vertical lightness
    gradients across the middle of the eye: its central 70 % of width, from 0.04
    inter-ocular distances above its centre line to 0.06 below. Open eyes read about
    0.4-1.6, shut eyes 0.1-0.3. ``image`` is an upright face (eyes level)."""
    light = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)[..., 0].astype(np.float32)
    gx = np.abs(cv2.Sobel(light, cv2.CV_32F, 1, 0, ksize=3))
    gy = np.abs(cv2.Sobel(light, cv2.CV_32F, 0, 1, ksize=3))
    p = np.asarray(lm, np.float64)
    iod = shape.interocular(p.astype(np.float32))
    out = []
    for eye in (shape.EYE_L, shape.EYE_R):
        e = p[eye]
        mid, left, right = e[[1, 2, 4, 5], 1].mean(), e[0, 0], e[3, 0]
        rows = slice(max(int(round(mid - 0.04 * iod)), 0), int(round(mid + 0.06 * iod)) + 1)
        cols = slice(
            max(int(round(left + 0.15 * (right - left))), 0),
            int(round(left + 0.85 * (right - left))) + 1,
        )
        vertical = float(gy[rows, cols].sum())
        out.append(float(gx[rows, cols].sum()) / vertical if vertical > 0 else 1.0)
    return out[0], out[1]


# The inter-ocular distance (px) the lines above were measured at (identity textures).
READ_IOD = 80.0


def track_seen_shut(
    frames: Sequence[Frame], landmarks: NDArray[np.floating], present: Sequence[int]
) -> NDArray[np.bool_]:
    """(N, 2) whether each eye of a track's face (image-left first) reads shut from the
    picture: its :func:`edge_ratio` under :data:`WINK_SHUT`, read in a band about the
    eyes levelled and scaled to :data:`READ_IOD`. dlib's points can keep a winking eye
    open (the devkit's d3: 0.4 to 1.3 times its usual opening, edge ratio 0.10-0.19).
    Not for faces behind glasses, whose frames add level edges."""
    out = np.zeros((len(landmarks), 2), bool)
    for i in present:
        band, pts = _eye_band(frames[i], np.asarray(landmarks[i], np.float64))
        out[i] = np.asarray(edge_ratio(band, pts)) < WINK_SHUT
    return out


def _eye_band(frame: Frame, lm: NDArray[np.float64]) -> tuple[Frame, NDArray[np.float64]]:
    """The eyes' band of ``frame``, eyes level :data:`READ_IOD` apart at its middle
    row, and the landmarks in its pixels."""
    a, b = shape.eye_centres(lm.astype(np.float32))
    w, h = int(2 * READ_IOD), int(READ_IOD)
    dst = np.array([[w / 2 - READ_IOD / 2, h / 2], [w / 2 + READ_IOD / 2, h / 2]])
    m = shape.similarity(np.stack([a, b]), dst)
    band = cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(band, np.uint8), shape.apply_affine(m, lm)


def shut(ratios: tuple[float, float], glasses: bool = False, yaw: float = 0.0) -> bool:
    """An eye shut for good: both (the mean of ``edge_ratio`` below :data:`SHUT`, or
    below :data:`SHUT_BEHIND_GLASSES` when the face wears glasses), or one in a wink
    (see :data:`WINK_SHUT`; not read behind glasses or on a face turned ``yaw``
    degrees or more than :data:`WINK_YAW`)."""
    if float(np.mean(ratios)) < (SHUT_BEHIND_GLASSES if glasses else SHUT):
        return True
    low, high = sorted(ratios)
    frontal = abs(yaw) < WINK_YAW and not glasses
    return frontal and low < WINK_SHUT and low < WINK_SHARE * high
