"""tools.motion_mesh: the share of a clip's motion the animator's mesh delivers."""

from __future__ import annotations

import numpy as np

from server.faces.portrait import head_and_shoulders
from server.gif_templates.retarget import portrait_rig
from tests.engines.test_motion_turn import turning_clip
from tests.render.samples import astronaut, dlib_models
from tools.motion_mesh import delivered


def test_a_turn_past_what_the_mesh_holds_is_delivered_in_part() -> None:
    found = dlib_models().detect(astronaut(), use_cnn=False)[0]
    image, marks = head_and_shoulders(astronaut(), found.landmarks)
    rig, face = portrait_rig(image, marks)
    gentle = delivered(rig, face, turning_clip(marks, 20.0))
    assert gentle[0] == 1.0 and gentle[2] == 0  # all of it, nothing drawn back
    steep = delivered(rig, face, turning_clip(marks, -60.0))
    assert steep[2] > 0 and 0.5 < steep[0] < 0.95  # drawn back in some frames
    assert np.isnan(gentle[1])  # the clip never opens its mouth
