"""The portrait's rest pose: a wide-open mouth closes without folding the mesh at its
corners, and is closed part of the way rather than left open."""

from __future__ import annotations

import numpy as np

from server.gif_templates.animate import FaceRig
from server.gif_templates.rest_mouth import closed_mouth, inner_gaps, rest_pose
from tests.gif_templates.helpers import face_points

# The mouth's corners (outer, inner) with the upper and lower lip's outer points beside.
SIDES = ((48, 60, 49, 59), (54, 64, 53, 55))


def wide_open() -> np.ndarray:
    """A laughing mouth as dlib can read one: the lower lip and the chin dropped by a
    third of the face, each corner a pixel below the upper lip's outer point beside it."""
    face = np.asarray(face_points(128.0, 110.0, 120.0), np.float64)
    drop = 40.0
    face[[55, 56, 57, 58, 59, 65, 66, 67], 1] += drop
    face[[6, 7, 8, 9, 10], 1] += 0.8 * drop
    face[[5, 11], 1] += 0.5 * drop
    for corner, inner, above, _ in SIDES:
        face[[corner, inner], 1] = face[above, 1] + 1.0
    return face


def test_the_corners_stay_between_the_lips_as_the_mouth_closes() -> None:
    face = wide_open()
    assert inner_gaps(face).min() > 0.3  # wide open
    closed = closed_mouth(face)
    assert inner_gaps(closed).max() < 0.05
    for corner, _, above, below in SIDES:
        assert closed[above, 1] < closed[corner, 1] < closed[below, 1]


def test_a_wide_open_mouth_is_closed_at_rest() -> None:
    face = wide_open()
    image = np.full((256, 256, 3), 128, np.uint8)
    rig = FaceRig(image, face, face)
    rest = rest_pose(face, rig.folds)
    assert not rig.folds(rest)
    assert inner_gaps(rest).max() < 0.5 * inner_gaps(face).min()
