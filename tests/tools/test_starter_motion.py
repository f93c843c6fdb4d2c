"""The puppet-authored wink motion closes one eye fully and the other not at all."""

from __future__ import annotations

import numpy as np

from server.gif_templates.retarget import _eyes_closed
from tests.render.samples import dlib_models
from tools.starter_motion import FRAMES, wink_motion


def test_wink_motion_closes_the_image_left_eye() -> None:
    motion = wink_motion(dlib_models())
    assert motion.frame_count == FRAMES and motion.shape is not None
    closed = np.array([_eyes_closed(motion.shape[i], motion.shape[0]) for i in range(FRAMES)])
    assert closed[:, 0].max() > 0.95 and closed[:, 1].max() < 0.3
    assert closed[0].max() == 0.0 and closed[-1, 0] < 0.2  # open at both ends: it loops
