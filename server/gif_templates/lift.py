"""A 3-D lift of the 68 landmarks, so that a clip's head turn (yaw) and nod (pitch) can be
measured and replayed as rotations rather than as flat displacements.

Depth is a mean face's, written per landmark in face units (inter-ocular distances,
positive toward the camera, the eye corners near 0): the nose tip stands about half an
IOD in front of the eyes, the outline's ends half an IOD behind them. Points are complex
numbers in a face's own frame (origin the centroid of the motion anchors, x along the eye
line, one unit per IOD; see :mod:`.motion`); rotations turn them about the anchors'
centroid at the anchors' mean depth, so a turn leaves the anchors' centroid in place, as
the stored motion does (its pose keeps the head's shift).
"""

from __future__ import annotations

import numpy as np

from server.gif_templates.motion import ANCHORS

# Depth per landmark (IOD, + toward the camera), by group of dlib's 68-point layout.
# The jaw line is where dlib puts the face's outline, which on a turning head slides over
# the cheek (a silhouette, not a point of skin): it is given less depth than the skin.
_JAW = [-0.55, -0.5, -0.42, -0.33, -0.22, -0.1, 0.0, 0.1, 0.15]
_BROW = [-0.15, 0.0, 0.1, 0.15, 0.17]
_NOSE = [0.15, 0.27, 0.4, 0.55, 0.22, 0.3, 0.35, 0.3, 0.22]
_EYE = [-0.12, 0.0, 0.0, -0.02, -0.02, -0.02]  # outer corner, upper lid, inner, lower lid
_LIPS = [0.08, 0.2, 0.27, 0.3, 0.27, 0.2, 0.08, 0.18, 0.24, 0.26, 0.24, 0.18]
_INNER = [0.1, 0.22, 0.25, 0.22, 0.1, 0.21, 0.23, 0.21]
DEPTH = np.array(
    _JAW + _JAW[-2::-1] + _BROW + _BROW[::-1] + _NOSE + _EYE + [_EYE[i] for i in (3, 2, 1, 0, 5, 4)]
    + _LIPS + _INNER,
    np.float64,
)  # fmt: skip
ANCHOR_DEPTH = float(DEPTH[ANCHORS].mean())
# Points whose depth spread tells a turn from an expression: nose, eye corners, the
# upper jaw (not the chin, which an opening mouth moves).
FIT_POINTS = np.array([0, 1, 2, 3, 13, 14, 15, 16, 27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45])
MAX_YAW = np.radians(25.0)
MAX_PITCH = np.radians(20.0)


def fit_turn(rest: np.ndarray, moved: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) in radians that best turn face ``rest`` into ``moved`` (complex, 68,
    same face frame), by least squares on :data:`FIT_POINTS` with a free shift (not
    capped: see :func:`capped`). Positive yaw moves the nose toward +x (image right),
    positive pitch toward +y (down)."""
    z = DEPTH[FIT_POINTS] - ANCHOR_DEPTH
    design = np.stack([z, np.ones_like(z)], 1)
    d = moved[FIT_POINTS] - rest[FIT_POINTS]
    (sin_yaw, _), *_ = np.linalg.lstsq(design, d.real, rcond=None)
    (sin_pitch, _), *_ = np.linalg.lstsq(design, d.imag, rcond=None)
    return float(np.arcsin(np.clip(sin_yaw, -1.0, 1.0))), float(
        np.arcsin(np.clip(sin_pitch, -1.0, 1.0))
    )


def capped(yaw: float, pitch: float) -> tuple[float, float]:
    """A turn within ``MAX_YAW`` / ``MAX_PITCH``: more would fold the mesh at the far
    cheek (the warp cannot show what turns into view)."""
    return float(np.clip(yaw, -MAX_YAW, MAX_YAW)), float(np.clip(pitch, -MAX_PITCH, MAX_PITCH))


def turned(points: np.ndarray, depth: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """``points`` (complex, face frame) at ``depth`` turned by ``yaw`` then ``pitch``
    about the anchors' centroid (the origin) at :data:`ANCHOR_DEPTH`, projected
    orthographically."""
    x, y, z = points.real, points.imag, np.asarray(depth, np.float64) - ANCHOR_DEPTH
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    x1, z1 = x * cy + z * sy, -x * sy + z * cy
    y1 = y * cp + z1 * sp
    return np.asarray(x1 + 1j * y1)
