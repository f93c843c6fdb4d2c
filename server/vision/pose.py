"""Head pose of a 68-point shape against a 3D mean face, to tell head turn apart from
facial proportions.

Two 2D shapes of different people differ by identity *and* by pose: a face turned 40
degrees has its far side squeezed and its nose pushed across. Comparing them point by
point reads the turn as proportions (a swap would then "un-turn" the template's face
and push the far eye off the head). Fitting a weak-perspective pose of a 3D mean face
to each shape and comparing what is left, in the face's own frontal plane, keeps only
the proportions; mapping those back through the template's pose squeezes them as the
turn does. The mean face is the one insightface ships (``data/objects``), 68 points in
dlib's order, x across the face, y down, z towards the viewer.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
from numpy.typing import NDArray

# Points that follow the head rather than the expression: jaw, brows, nose, eyes.
_FIT = np.arange(0, 48)
# The frontal plane is never stretched more than this much (about 60 degrees of turn):
# beyond it the far side is a silhouette and its landmarks say little.
_MAX_STRETCH = 2.0


@cache
def mean_face() -> NDArray[np.float64]:
    """(68, 3) mean face from insightface's package data (a pickled array shipped inside
    the installed package, so it is as trusted as the package's code)."""
    ref = resources.files("insightface") / "data" / "objects" / "meanshape_68.pkl"
    with ref.open("rb") as f:
        pts = np.asarray(pickle.load(f), np.float64)  # package data, see above
    if pts.shape != (68, 3):
        raise ValueError(f"unexpected mean face shape {pts.shape}")
    return pts


@dataclass(frozen=True)
class Pose:
    """Weak perspective: image point = scale * rotation @ model point + shift."""

    rotation: NDArray[np.float64]  # (2, 3), orthonormal rows
    scale: float
    shift: NDArray[np.float64]  # (2,)

    def project(self, model: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(self.scale * model @ self.rotation.T + self.shift, np.float64)

    @property
    def plane(self) -> NDArray[np.float64]:
        """(2, 2): how a displacement in the face's frontal plane (x across, y down)
        appears in the image, up to scale."""
        return np.asarray(self.rotation[:, :2], np.float64)


def fit(points: NDArray[np.floating]) -> Pose:
    """Least-squares weak-perspective pose of the mean face onto ``points`` (68, 2):
    an affine fit, then the nearest scaled rotation (its two rows orthonormal)."""
    p = np.asarray(points, np.float64)[_FIT]
    m = mean_face()[_FIT]
    mc, pc = m - m.mean(0), p - p.mean(0)
    a, *_ = np.linalg.lstsq(mc, pc, rcond=None)  # (3, 2): pc ~ mc @ a
    u, s, vt = np.linalg.svd(a.T, full_matrices=False)  # a.T: (2, 3)
    rotation = u @ vt
    if np.linalg.det(rotation[:, :2]) < 0:
        # A mirror image fits as well as the face itself only for degenerate input;
        # keep the face's handedness (x stays x).
        rotation[1] *= -1
    scale = float(s.mean())
    shift = p.mean(0) - scale * m.mean(0) @ rotation.T
    return Pose(rotation, scale, shift)


def frontal_offsets(points: NDArray[np.floating], pose: Pose) -> NDArray[np.float64]:
    """Where ``points`` (68, 2) depart from the posed mean face, as displacements in the
    face's frontal plane (same units as ``points``)."""
    residual = np.asarray(points, np.float64) - pose.project(mean_face())
    plane = pose.plane
    u, s, vt = np.linalg.svd(plane)
    inverse = vt.T @ np.diag(1.0 / np.maximum(s, 1.0 / _MAX_STRETCH)) @ u.T
    return np.asarray(residual @ inverse.T, np.float64)


def to_image(offsets: NDArray[np.floating], pose: Pose) -> NDArray[np.float64]:
    """Frontal-plane displacements (68, 2) as they appear in an image in ``pose``."""
    return np.asarray(np.asarray(offsets, np.float64) @ pose.plane.T, np.float64)


def yaw_degrees(pose: Pose) -> float:
    """Head turn left or right, in degrees (0 = frontal; sign: towards image right)."""
    # The third column is how depth shows in the image: the turn's sine along x.
    return float(np.degrees(np.arcsin(np.clip(pose.rotation[0, 2], -1.0, 1.0))))
