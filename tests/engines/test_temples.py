"""The classic engine's face points reach over a turned face's near temple: a forehead
row that stopped above the brow's end cut the temple off, and the template's own temple
showed as a wedge beside the new face (server.vision.outline.face_points)."""

from __future__ import annotations

import numpy as np

from server.vision import shape
from server.vision.outline import TEMPLE_REACH, face_points
from tests.render.samples import astronaut, dlib_models


def eye_axis(lm: np.ndarray) -> np.ndarray:
    a, b = shape.eye_centres(lm)
    return (b - a) / np.linalg.norm(b - a)


def astronaut_points() -> np.ndarray:
    return np.asarray(dlib_models().detect(astronaut(), use_cnn=False)[0].landmarks, np.float32)


def test_the_forehead_row_follows_a_jaw_that_reaches_past_the_brow() -> None:
    lm = astronaut_points()
    axis = eye_axis(lm)
    # a turned face: the image-left jaw top lies 12 px beyond the brow's end
    turned = lm.copy()
    turned[0] += (-12.0 - float(np.dot(turned[0] - turned[17], axis))) * axis
    overhang = float(np.dot(turned[17] - turned[0], axis))
    assert abs(overhang - 12.0) < 1e-3
    plain, reached = shape.with_forehead(turned), face_points(turned)
    moved = reached - plain
    np.testing.assert_allclose(moved[68], -TEMPLE_REACH * overhang * axis, atol=1e-3)
    assert np.abs(moved[:68]).max() == 0 and np.abs(moved[69:75]).max() == 0


def test_a_jaw_inside_the_brows_leaves_the_forehead_row_as_it_is() -> None:
    lm = astronaut_points()
    axis = eye_axis(lm)
    narrow = lm.copy()
    for jaw, brow, inward in ((0, 17, 1.0), (16, 26, -1.0)):
        beyond = float(np.dot(narrow[jaw] - narrow[brow], axis)) * -inward
        narrow[jaw] += (max(beyond, 0.0) + 3.0) * inward * axis  # 3 px inside the brow
    np.testing.assert_array_equal(face_points(narrow), shape.with_forehead(narrow))
