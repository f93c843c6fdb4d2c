"""A shut eye's painted lid (:func:`server.gif_templates.paint.paint_closing_eye`): the
skin's colour at the light above the lid, not the band's own grey-green or make-up."""

from __future__ import annotations

import cv2
import numpy as np

from server.gif_templates.paint import paint_closing_eye

SKIN = np.array([120.0, 150.0, 200.0])  # BGR, a warm skin
SOCKET = (110, 125, 112)  # grey-green shading above the lid


def eye_scene() -> tuple[np.ndarray, np.ndarray]:
    """A warm skin with an open eye (white and a dark iris) under a band of grey-green
    socket shading, as a painting shades it, and a dark lash line; and the eye's six
    points (dlib's order)."""
    frame = np.empty((120, 160, 3), np.uint8)
    frame[:] = SKIN
    eye = np.array([(50, 60), (65, 52), (95, 52), (110, 60), (95, 67), (65, 67)], np.float64)
    cv2.rectangle(frame, (45, 36), (115, 52), SOCKET, -1)
    cv2.fillPoly(frame, [eye.astype(np.int32)], (235, 235, 235))
    cv2.circle(frame, (80, 60), 7, (40, 50, 60), -1)
    cv2.polylines(frame, [eye[:4].astype(np.int32)], False, (20, 20, 20), 2)
    return frame, eye


def test_a_shut_lid_takes_the_skin_hue_at_the_light_above_it() -> None:
    frame, eye = eye_scene()
    paint_closing_eye(frame, eye, 1.0, SKIN)
    inside = cv2.fillPoly(np.zeros(frame.shape[:2], np.uint8), [eye.astype(np.int32)], 1)
    lid = frame[cv2.erode(inside, np.ones((5, 5), np.uint8)) > 0].astype(np.float64)
    # the eye's white and iris are covered
    assert lid.mean(axis=1).std() < 12.0
    # in the skin's hue (red over blue as the skin's 1.67), not the band's grey-green (1.0)
    red_over_blue = float(np.median(lid[:, 2]) / np.median(lid[:, 0]))
    assert abs(red_over_blue - SKIN[2] / SKIN[0]) < 0.15
    # at about the band's light, not the skin's own
    assert abs(float(np.median(lid.mean(axis=1))) - float(np.mean(SOCKET))) < 15.0
