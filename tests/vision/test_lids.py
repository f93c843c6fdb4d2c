"""A shut eye's painted lid (:func:`server.vision.lids.paint_shut_lid`): the
skin round the eye carried over it, with its shading, not one flat colour."""

from __future__ import annotations

import cv2
import numpy as np

from server.vision.lids import paint_shut_lid

ABOVE = np.array([110.0, 125.0, 112.0])  # BGR: grey-green socket shading over the lid
BELOW = np.array([150.0, 180.0, 225.0])  # a lit cheek under the eye


def eye_scene() -> tuple[np.ndarray, np.ndarray]:
    """Skin shading from ``ABOVE`` over the eye to ``BELOW`` under it, an open eye
    (white, a dark iris) and a dark lash line; and the eye's six points (dlib's order)."""
    rows = np.clip((np.arange(120) - 45.0) / 30.0, 0.0, 1.0)[:, None, None]
    frame = np.repeat(ABOVE + rows * (BELOW - ABOVE), 160, axis=1).round().astype(np.uint8)
    eye = np.array([(50, 60), (65, 52), (95, 52), (110, 60), (95, 67), (65, 67)], np.float64)
    cv2.fillPoly(frame, [eye.astype(np.int32)], (235, 235, 235))
    cv2.circle(frame, (80, 60), 7, (40, 50, 60), -1)
    cv2.polylines(frame, [eye[:4].astype(np.int32)], False, (20, 20, 20), 2)
    return frame, eye


def test_a_shut_lid_carries_the_shading_round_it() -> None:
    frame, eye = eye_scene()
    paint_shut_lid(frame, eye, 1.0)
    inside = cv2.fillPoly(np.zeros(frame.shape[:2], np.uint8), [eye.astype(np.int32)], 1)
    lid = cv2.erode(inside, np.ones((5, 5), np.uint8)) > 0
    grey = frame.astype(np.float64).mean(axis=2)
    ys = np.nonzero(lid)[0]
    top = grey[lid & (np.arange(120)[:, None] < ys.mean())].mean()
    bottom = grey[lid & (np.arange(120)[:, None] > ys.mean())].mean()
    # the eye's white and iris are gone: everything within the skin's range...
    assert ABOVE.mean() - 25 < grey[lid].min() and grey[lid].max() < BELOW.mean() + 10
    # ...shaded as round it, darker towards the socket (one flat colour has no such step)
    assert bottom - top > 5.0
    # and the lid is skin, red over blue as the skin round it, not a grey patch
    bgr = frame[lid].astype(np.float64).mean(axis=0)
    assert bgr[2] / bgr[0] > 1.15
