"""Where the eyes look: the iris's place across each eye, read from the picture (moved
there on another face by :mod:`server.vision.eyeball`).

dlib's six eye points follow the lids, not the iris, so nothing in the landmarks says
where a face looks. With the eye rectified (its corners level, a fixed width), the
band of columns darkest between the lids is the iris; the sclera either side is the
lightest part of an open eye.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np
from numpy.typing import NDArray

from server.vision.boxes import clip_box, points_box

# The rectified eye: corners at (_MARGIN, _ROW) and (_MARGIN + _WIDTH, _ROW).
_WIDTH, _MARGIN, _ROW = 48, 8, 16
_PATCH = (_WIDTH + 2 * _MARGIN, 2 * _ROW)
IRIS_RADIUS = 0.2  # the iris's radius as a share of the eye's corner-to-corner width
# Least contrast (grey levels, 0..255) between the iris's band and the eye's median
# column for a read to count: skin between squeezed lids, or an eye in deep shadow,
# reads under it.
READABLE = 12.0
# The two eyes look the same way: reads further apart than this (share of the width)
# are a misread of one of them.
AGREE = 0.3
LEAST_OPEN = 0.6  # an eye less open than this (classic_shape openness) is not read
LEAST_READ = 0.5  # a track with fewer frames read than this share keeps the selfie's gaze
# Changes of the read under this (share of the width) are a read's noise, not a move.
STILL = 0.04
# The iris's centre read no nearer a corner than this (share of the width).
INSIDE = 0.12


def _rectifying(eye: NDArray[np.float64]) -> NDArray[np.float64]:
    """The (2, 3) similarity taking the eye's corners (points 0 and 3) to the patch's."""
    a, b = eye[0], eye[3]
    d = b - a
    src = np.array([a, b, a + np.array([-d[1], d[0]])], np.float32)
    dst = np.array(
        [[_MARGIN, _ROW], [_MARGIN + _WIDTH, _ROW], [_MARGIN, _ROW + _WIDTH]], np.float32
    )
    return np.asarray(cv2.getAffineTransform(src, dst), np.float64)


class Iris(NamedTuple):
    """One eye's iris as read from the picture (shares of the eye's corner-to-corner
    width): ``across`` from the image-left corner (0) to the image-right one (1);
    ``radius``; ``contrast``: how much darker its band is than the eye's median column
    (grey levels; under :data:`READABLE` the read is not to be trusted)."""

    across: float
    radius: float
    contrast: float


def read_iris(light: NDArray[np.float32], eye: NDArray[np.floating]) -> Iris:
    """The iris of the eye with six dlib points ``eye`` in a lightness image ``light``
    (0..255)."""
    m = _rectifying(np.asarray(eye, np.float64))
    patch = cv2.warpAffine(light, m, _PATCH, borderMode=cv2.BORDER_REPLICATE)
    pts = np.c_[np.asarray(eye, np.float64), np.ones(6)] @ m.T
    inside = np.zeros(_PATCH[::-1], np.uint8)
    cv2.fillPoly(inside, [np.round(pts).astype(np.int32)], 1)
    inside = cv2.erode(inside, np.ones((3, 1), np.uint8))  # off the lash lines
    rows = inside.sum(0).astype(np.float32)
    seen = rows >= 2
    if seen.sum() < _WIDTH // 2:
        return Iris(0.5, IRIS_RADIUS, 0.0)
    dark = ((255.0 - patch) * inside).sum(0) / np.maximum(rows, 1.0)
    band = np.ones(int(round(IRIS_RADIUS * _WIDTH)) | 1, np.float32)
    num = np.convolve(np.where(seen, dark, 0.0), band, "same")
    score = num / np.maximum(np.convolve(seen.astype(np.float32), band, "same"), 1e-6)
    # Placed by the darkness beyond the sclera's summed down each column: a column
    # mean would pull an iris off centre towards the corner, where the lids close in.
    sclera = float(np.percentile(dark[seen], 10))
    excess = (np.maximum(255.0 - patch - sclera, 0.0) * inside).sum(0)
    half = int(round(IRIS_RADIUS * _WIDTH))
    mass = np.convolve(excess, np.ones(2 * half + 1), "same")
    lo, hi = _MARGIN + int(INSIDE * _WIDTH), _MARGIN + int((1 - INSIDE) * _WIDTH)
    x = lo + int(np.argmax(mass[lo:hi]))
    near = np.arange(max(x - half, 0), min(x + half + 1, len(excess)))
    centre = float((excess[near] * near).sum() / max(float(excess[near].sum()), 1e-6))
    contrast = float(score[x] - np.median(dark[seen])) if seen[x] else 0.0
    return Iris((centre - _MARGIN) / _WIDTH, _radius(dark, seen, x, sclera), contrast)


def _radius(dark: NDArray[np.float64], seen: NDArray[np.bool_], x: int, sclera: float) -> float:
    """The iris's half width (share of the eye's) about column ``x`` of the column
    darkness ``dark``: the nearer of the two places either side where the darkness
    falls two thirds of the way to the ``sclera``'s (the lightest tenth of the columns
    seen): a brown iris is far lighter than its pupil. The far side may run on into a
    corner's shadow."""
    level = sclera + (dark[x] - sclera) / 3
    sides = []
    for step in (-1, 1):
        i = x
        while 0 <= i + step < len(dark) and seen[i + step] and dark[i + step] > level:
            i += step
        sides.append(abs(i - x) + 0.5)
    return float(np.clip(min(sides) / _WIDTH, 0.14, 0.3))


def frame_reads(
    frames: Sequence[NDArray[np.uint8]], landmarks: NDArray[np.float32], present: Sequence[int]
) -> NDArray[np.float32]:
    """(N, 2) each eye's iris place per frame (:class:`Iris`'s ``across``, image-left eye
    first) where both eyes read clear and agree, NaN elsewhere. Depends on the clip
    alone: stored with a template's analysis (see :mod:`server.gif_templates.features`)."""
    u = np.full((len(landmarks), 2), np.nan, np.float32)
    for i in present:
        light, eyes = _eyes_crop(frames[i], landmarks[i])
        left, right = (read_iris(light, eye) for eye in eyes)
        if (
            min(left.contrast, right.contrast) >= READABLE
            and abs(left.across - right.across) <= AGREE
        ):
            u[i] = left.across, right.across
    return u


def track_gaze(
    reads: NDArray[np.floating], present: Sequence[int], openness: NDArray[np.float64]
) -> NDArray[np.float64] | None:
    """(N, 2) the track's gaze from its :func:`frame_reads`: the reads of frames where
    both eyes are open (``openness`` at least :data:`LEAST_OPEN`), held or
    interpolated between, smoothed over three frames and held through small changes;
    None where too few frames read."""
    n = len(reads)
    u = np.asarray(reads, np.float64).copy()
    used = np.zeros(n, bool)
    used[list(present)] = True
    used &= ~(np.fmin(openness[:, 0], openness[:, 1]) < LEAST_OPEN)
    u[~used] = np.nan
    read = np.flatnonzero(~np.isnan(u[:, 0]))
    if len(present) == 0 or len(read) < LEAST_READ * len(present):
        return None
    at = np.arange(n)
    filled = np.stack([np.interp(at, read, u[read, k]) for k in range(2)], axis=1)
    padded = np.pad(filled, ((1, 1), (0, 0)), mode="edge")
    smooth = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    return _held(smooth)


def _eyes_crop(
    frame: NDArray[np.uint8], lm: NDArray[np.float32]
) -> tuple[NDArray[np.float32], list[NDArray[np.float64]]]:
    """The lightness of ``frame`` about both eyes (not the whole frame: a clip has tens
    of them), and the two eyes' points in that crop."""
    pts = np.asarray(lm, np.float64)[36:48]
    h, w = frame.shape[:2]
    box = clip_box(points_box(pts, 0.5 * float(np.hypot(*(pts[3] - pts[0])))), w, h)
    crop = frame[box.top : box.bottom, box.left : box.right]
    light = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32)
    corner = (box.left, box.top)
    return light, [pts[:6] - corner, pts[6:] - corner]


def _held(u: NDArray[np.float64]) -> NDArray[np.float64]:
    """``u`` (N, 2) held still through moves under :data:`STILL` (a read's noise would
    tremble the iris by a pixel; eyes move in jumps), both eyes together."""
    out = u.copy()
    for i in range(1, len(u)):
        if np.abs(u[i] - out[i - 1]).max() < STILL:
            out[i] = out[i - 1]
    return out
