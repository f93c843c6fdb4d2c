"""Folds of the animator's triangle mesh: which triangles count, whether a warp folds,
and drawing a warp back toward the still picture until it does not."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Points = NDArray[np.float64]
SLIVER_PX = 1.0  # rest-pose triangles thinner than this are not checked for folds
_UPPER_LIP = [49, 50, 51, 52, 53, 61, 62, 63]  # landmarks; the corners are in neither
_LOWER_LIP = [55, 56, 57, 58, 59, 65, 66, 67]


def unfolded(
    src: Points, dst: Points, tris: NDArray[np.int32], base: Points | None = None
) -> Points:
    """``dst``, or ``base + k (dst - base)`` with the largest ``k`` of 1, 0.85, 0.85^2 ...
    for which none of ``tris`` (each with an area in ``src``) flips or collapses (k = 0
    at worst: ``base``, the rest mesh, which must not fold; None: ``src``, the still
    picture)."""
    start = src if base is None else base
    before = signed_areas(src, tris)
    k = 1.0
    for _ in range(24):
        moved = start + k * (dst - start)
        if np.all(signed_areas(moved, tris) * before > 0):
            return moved
        k *= 0.85
    return start.copy()


def fold_checked(src: Points, made: Points, tris: NDArray[np.int32]) -> NDArray[np.intp]:
    """The triangles whose flipping is a fold: those with the orientation they were made
    with (``made``: the mesh with the mouth open) in the picture (``src``). Left out: those
    already inverted in the picture (inside closed lips), those across an open mouth,
    inside the inner lips or from the upper lip to the lower (lips that close collapse
    them; what shows there is painted), and those inside an eye (lids that meet in a
    blink collapse them; the shut lid is painted). Counted, every blink drew the whole
    mesh back toward the rest pose, and the head and mouth stopped short with it."""
    before = signed_areas(src, tris)
    same = (np.sign(before) == np.sign(signed_areas(made, tris))) & (np.abs(before) > 1e-6)
    inside = ((tris >= 60) & (tris < 68)).all(axis=1)
    across = np.isin(tris, _UPPER_LIP).any(axis=1) & np.isin(tris, _LOWER_LIP).any(axis=1)
    eye = ((tris >= 36) & (tris < 42)).all(axis=1) | ((tris >= 42) & (tris < 48)).all(axis=1)
    return np.flatnonzero(same & ~inside & ~across & ~eye)


def slivers(pts: Points, tris: NDArray[np.int32], thinnest: float = SLIVER_PX) -> NDArray[np.bool_]:
    """Triangles thinner than ``thinnest`` px (height over their longest side) at
    ``pts``. A sliver flips with a sub-pixel move and nothing shows when it does;
    checked as a fold in the rest pose (dlib's outer and inner lower lip in one line
    on a mouth showing its teeth), every frame folded and was drawn back to the rest
    pose: the face froze."""
    a, b, c = pts[tris[:, 0]], pts[tris[:, 1]], pts[tris[:, 2]]
    longest = np.max([np.linalg.norm(b - a, axis=1), np.linalg.norm(c - b, axis=1),
                      np.linalg.norm(a - c, axis=1)], axis=0)  # fmt: skip
    return np.asarray(np.abs(signed_areas(pts, tris)) < thinnest * np.maximum(longest, 1e-9))


def signed_areas(pts: Points, tris: NDArray[np.int32]) -> NDArray[np.float64]:
    a, b, c = pts[tris[:, 0]], pts[tris[:, 1]], pts[tris[:, 2]]
    return np.asarray((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0])


def flips(src: Points, dst: Points, tris: NDArray[np.int32]) -> bool:
    """Whether any of ``tris`` flips or collapses from ``src`` to ``dst``."""
    return bool(np.any(signed_areas(dst, tris) * signed_areas(src, tris) <= 0))
