"""A face's outline as the swap draws it: the 68 landmarks' jaw and a forehead row
above the brows that reaches over a turned face's temple.

The classic engine reshapes and blends along this outline, and the seam matching
measures the template's skin along it (offline, with the template's analysis, and per
render for the identity's face), so both read it from here.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from server.vision import shape

OUTLINE = np.concatenate([np.arange(0, 17), np.arange(75, 67, -1)])  # jaw, forehead back
# How far the forehead row's outer points follow the jaw's top point out past the
# brow's end (share of that overhang).
TEMPLE_REACH = 0.5


def face_points(lm: NDArray[np.float32]) -> NDArray[np.float32]:
    """The 68 points and the forehead row (76), its outer points moved out over the
    temples where the jaw's top point lies beyond the brow's end. On a turned face the
    near side's temple lies there: a row that stops above the brow cuts it off, and
    the template's own temple shows as a wedge beside the new face."""
    pts = shape.with_forehead(lm)
    a, b = shape.eye_centres(np.asarray(lm, np.float32))
    axis = (b - a) / max(float(np.linalg.norm(b - a)), 1e-6)
    for row, brow, jaw, outward in ((68, 17, 0, -1.0), (75, 26, 16, 1.0)):
        overhang = float(np.dot(lm[jaw] - lm[brow], axis)) * outward
        if overhang > 0:
            pts[row] += TEMPLE_REACH * overhang * outward * axis
    return pts
