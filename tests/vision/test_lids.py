"""A shut eye's painted lid (:func:`server.vision.lids.paint_shut_lid`): the skin's
colour just above the lid over what is left of the eye, and a darker lash line where
the lids meet."""

from __future__ import annotations

import cv2
import numpy as np

from server.vision.lids import paint_shut_lid

SKIN = (150, 180, 225)  # BGR


def eye_scene() -> tuple[np.ndarray, np.ndarray]:
    """An even skin with an eye squeezed nearly shut (a white sliver, a dark iris
    between), and the eye's six points (dlib's order)."""
    frame = np.empty((120, 160, 3), np.uint8)
    frame[:] = SKIN
    eye = np.array([(50, 60), (65, 58), (95, 58), (110, 60), (95, 63), (65, 63)], np.float64)
    cv2.fillPoly(frame, [eye.astype(np.int32)], (235, 235, 235))
    cv2.circle(frame, (80, 60), 3, (30, 40, 50), -1)
    return frame, eye


def region(frame: np.ndarray, eye: np.ndarray) -> np.ndarray:
    inside = cv2.fillPoly(np.zeros(frame.shape[:2], np.uint8), [eye.astype(np.int32)], 1)
    return frame[cv2.dilate(inside, np.ones((3, 3), np.uint8)) > 0].astype(np.float64)


def test_a_shut_lid_covers_the_squeezed_eye_with_skin_and_a_lash_line() -> None:
    frame, eye = eye_scene()
    before = region(frame, eye).mean(axis=1)
    paint_shut_lid(frame, eye, 1.0)
    after = region(frame, eye)
    grey = after.mean(axis=1)
    assert before.max() > 230 and before.min() < 50  # white and iris showed
    assert grey.max() < np.mean(SKIN) + 5  # no white sliver left
    assert grey.min() > 50  # nor the iris: the darkest is the lash line
    lash = frame[60, 70:90].astype(np.float64).mean(axis=1)
    assert lash.mean() < 0.8 * np.mean(SKIN)  # a line where the lids meet


def test_a_lid_barely_closing_or_of_unknown_closing_is_not_painted() -> None:
    for closed in (0.25, float("nan")):
        frame, eye = eye_scene()
        untouched = frame.copy()
        paint_shut_lid(frame, eye, closed)
        assert np.array_equal(frame, untouched)
