"""Geometry of the 68-point face shape: index groups, alignment, derived points, measures."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from server.types import Affine, Landmarks5, Landmarks68

JAW = np.arange(0, 17)
BROWS = np.arange(17, 27)
NOSE = np.arange(27, 36)
EYE_L = np.arange(36, 42)  # image-left eye
EYE_R = np.arange(42, 48)
OUTER_LIPS = np.arange(48, 60)
INNER_LIPS = np.arange(60, 68)
# Points that move little with expression: nose bridge and base, eye corners.
STABLE = np.array([27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45])
# Forehead points are raised from these brow points (outer ends to centre).
_FOREHEAD_FROM = np.array([17, 18, 19, 21, 22, 24, 25, 26])
FOREHEAD_RISE = 0.22  # of the brow-to-chin height


def _mirror_index() -> NDArray[np.int64]:
    pairs = [(i, 16 - i) for i in range(17)]
    pairs += [(17, 26), (18, 25), (19, 24), (20, 23), (21, 22)]
    pairs += [(27, 27), (28, 28), (29, 29), (30, 30), (31, 35), (32, 34), (33, 33)]
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    pairs += [(48, 54), (49, 53), (50, 52), (51, 51), (55, 59), (56, 58), (57, 57)]
    pairs += [(60, 64), (61, 63), (62, 62), (65, 67), (66, 66)]
    idx = np.arange(68)
    for a, b in pairs:
        idx[a], idx[b] = b, a
    return idx


MIRROR = _mirror_index()  # MIRROR[i]: the point on the other side of the face
MIDLINE = np.flatnonzero(np.arange(68) == MIRROR)  # nose ridge and tip, lips' middles, chin


def symmetric_offsets(delta: NDArray[np.floating]) -> NDArray[np.float64]:
    """The left-right symmetric part of a displacement field on the 68 points, in a
    frame where x is across the face. Faces are nearly symmetric, so what is not is
    mostly head turn or expression in the photo, not identity."""
    d = np.asarray(delta, np.float64)
    mirrored = d[MIRROR] * np.array([-1.0, 1.0])
    return (d + mirrored) / 2


def similarity(src: NDArray[np.floating], dst: NDArray[np.floating]) -> Affine:
    """Least-squares similarity (rotation, uniform scale, shift) taking src onto dst.

    Closed form after Umeyama (1991), without reflection.
    """
    s = np.asarray(src, np.float64)
    d = np.asarray(dst, np.float64)
    ms, md = s.mean(0), d.mean(0)
    sc, dc = s - ms, d - md
    cov = dc.T @ sc / len(s)
    u, sig, vt = np.linalg.svd(cov)
    e = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[1, 1] = -1
    rot = u @ e @ vt
    var = (sc**2).sum() / len(s)
    scale = float(np.trace(np.diag(sig) @ e) / var) if var > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = md - scale * rot @ ms
    return m


def apply_affine(m: Affine, pts: NDArray[np.floating]) -> NDArray[np.float64]:
    p = np.asarray(pts, np.float64)
    return p @ m[:, :2].T + m[:, 2]


def eye_centres(lm: Landmarks68) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return lm[EYE_L].mean(0).astype(np.float64), lm[EYE_R].mean(0).astype(np.float64)


def interocular(lm: Landmarks68) -> float:
    a, b = eye_centres(lm)
    return float(np.linalg.norm(b - a))


def landmarks5(lm: Landmarks68) -> Landmarks5:
    """Eye centres, nose tip, mouth corners: the 5 points insightface aligns with."""
    a, b = eye_centres(lm)
    return np.array([a, b, lm[30], lm[48], lm[54]], dtype=np.float32)


def face_height(lm: Landmarks68) -> float:
    """Distance from the brows' centre to the chin."""
    return float(np.linalg.norm(lm[[19, 24]].mean(0) - lm[8]))


def forehead_points(lm: Landmarks68) -> NDArray[np.float32]:
    """Points above the brows, so meshes and masks cover the forehead.

    Each chosen brow point is raised along the face's up direction (chin to brows) by
    a fixed share of the face height; the row follows the brows' shape and the head's
    roll, and is computed the same way on every face so they correspond.
    """
    brow_c = lm[[19, 24]].mean(0)
    up = brow_c - lm[8]
    h = float(np.linalg.norm(up))
    up = up / max(h, 1e-6)
    # Outer points rise less so the row curves like a hairline.
    rise = np.array([0.55, 0.8, 0.95, 1.0, 1.0, 0.95, 0.8, 0.55]) * FOREHEAD_RISE * h
    return (lm[_FOREHEAD_FROM] + up[None, :] * rise[:, None]).astype(np.float32)


def with_forehead(lm: Landmarks68) -> NDArray[np.float32]:
    """The 68 points followed by the forehead row (76 points)."""
    return np.concatenate([np.asarray(lm, np.float32), forehead_points(lm)], 0)


def frontality(lm: Landmarks68) -> float:
    """1 for a frontal face, towards 0 as the head turns (yaw), from the nose's place
    between the cheeks."""
    a, b = eye_centres(lm)
    axis = (b - a) / max(float(np.linalg.norm(b - a)), 1e-6)
    nose = float(np.dot(lm[30] - a, axis))
    left = nose - float(np.dot(lm[2] - a, axis))
    right = float(np.dot(lm[14] - a, axis)) - nose
    if left <= 0 or right <= 0:
        return 0.0
    return float(min(left, right) / max(left, right))


def mouth_openness(lm: Landmarks68) -> float:
    """Gap between the inner lips relative to the mouth's width (0 = closed)."""
    gap = np.linalg.norm(lm[[61, 62, 63]] - lm[[67, 66, 65]], axis=1).mean()
    width = np.linalg.norm(lm[54] - lm[48])
    return float(gap / max(width, 1e-6))


def eye_openness(lm: Landmarks68) -> float:
    """Mean eyelid gap over eye width for both eyes (about 0.3 open, < 0.15 closed)."""

    def one(e: NDArray[np.integer]) -> float:
        p = lm[e]
        gap = float(np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / 2
        return gap / max(float(np.linalg.norm(p[3] - p[0])), 1e-6)

    return (one(EYE_L) + one(EYE_R)) / 2
