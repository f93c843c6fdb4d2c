"""Blinks read off a clip (:func:`server.gif_templates.retarget.blinks`): both eyes
close alike in a blink even where dlib reads one eye's lids late, and a wink stays a
wink."""

from __future__ import annotations

import numpy as np

from server.gif_templates.motion import as_complex, as_points, face_frame
from server.gif_templates.retarget import blinks, retarget
from server.types import MotionData
from tests.gif_templates.helpers import face_points

_LIDS = (((37, 41), (38, 40)), ((43, 47), (44, 46)))


def lids_clip(closing: list[tuple[float, float]]) -> MotionData:
    """A still face whose lids come ``closing`` of the way together, per frame and eye
    (image-left, image-right), at 15 frames a second."""
    rest = face_points(100.0, 100.0, 120.0)
    origin, axis = face_frame(rest)
    shape0 = (as_complex(rest) - origin) / axis
    shapes = []
    for amounts in closing:
        z = shape0.copy()
        for eye, amount in zip(_LIDS, amounts, strict=True):
            for upper, lower in eye:
                z[upper] += (z[lower] - z[upper]) * amount
        shapes.append(as_points(z))
    n = len(closing)
    return MotionData(
        "landmarks", (67,) * n, 0, shape=np.asarray(shapes, np.float32),
        pose=np.zeros((n, 4), np.float32),
    )  # fmt: skip


def test_an_eye_read_late_in_a_blink_closes_with_the_other() -> None:
    # frame 2: the left eye shut, the right one read a third closed (a frame late)
    clip = lids_clip([(0, 0), (0, 0), (0.5, 0.33), (0.5, 0.5), (0.5, 0.5), (0.36, 0.45), (0, 0)])
    shut = blinks(clip)
    assert shut[2].min() > 0.99
    assert shut[5].min() == shut[5].max() > 0.8  # and reopen together
    assert shut[[0, 1, 6]].max() == 0.0
    face = np.asarray(face_points(200.0, 200.0, 150.0), np.float64)
    assert min(retarget(face, clip, 2)[2]) > 0.8  # painted shut, both eyes


def test_a_wink_stays_a_wink() -> None:
    # the right eye narrows with the wink (a cheek raised) but never shuts
    clip = lids_clip([(0, 0), (0.5, 0.33), (0.5, 0.36), (0.5, 0.34), (0, 0), (0, 0), (0, 0)])
    shut = blinks(clip)
    assert shut[1:4, 0].min() > 0.99
    assert shut[1:4, 1].max() < 0.8
    # and a blink right after a wink closes the winking eye's partner only when it shuts
    clip = lids_clip([(0, 0), (0.5, 0.0), (0.5, 0.05), (0.5, 0.5), (0.5, 0.5), (0, 0), (0, 0)])
    shut = blinks(clip)
    assert shut[[1, 2], 1].max() == 0.0 and shut[[3, 4]].min() > 0.99
