"""A face track's head pose steadied by the picture's own motion, offline.

dlib fits every frame on its own. After smoothing, the fitted face still drifts against
the head by a pixel or more from frame to frame on a fast-moving clip, and a swapped
face, which follows the landmarks, then slides over the head: tools.quality's ``slide``
(the change left once the head's motion is taken out, output over template) read 1.54
on teeth_s42 x d12 where the plain flicker read 1.12.

The picture says how the head moved: :func:`track_check.face_steps` measures it between
neighbouring frames with optical flow on the face's features. :func:`steady_pose` finds
the positions of the rigid points (``shape.STABLE``) closest to the landmarks that also
move as the flow says, in one least-squares problem over each run of frames (the flow's
constraints weighted ``FLOW_WEIGHT``), then moves each frame's 68 points by the
similarity that takes its rigid points there. The face's shape and expression (mouth,
lids, brows) stay as dlib fitted them; only the head's placement changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sparse
from numpy.typing import NDArray
from scipy.sparse.linalg import factorized

from server.types import Frame
from server.vision import shape, track_check

# Weight of "moves as the flow says" against "stays near dlib's fit" (squared residuals
# in pixels). Chosen on the devkit clips by the slide measure: 4 lowered it on all five
# (teeth_s42: d12 1.54 -> 1.42, d9 1.10 -> 1.06, d3 1.06 -> 1.04, s18 1.08 -> 1.05);
# 16 did better on d12 alone and worse on the calmer clips.
FLOW_WEIGHT = 4.0


def steady_pose(frames: Sequence[Frame], landmarks: NDArray[np.float32]) -> NDArray[np.float32]:
    """``landmarks``: (N, 68, 2), NaN where absent. Returns them with each present
    frame's head placement steadied by the measured motion (a new array)."""
    present = [i for i in range(len(landmarks)) if not np.isnan(landmarks[i, 0, 0])]
    out = np.array(landmarks, np.float32, copy=True)
    if len(present) < 2:
        return out
    steps = track_check.face_steps(frames, landmarks, present)
    anchors = landmarks[present][:, shape.STABLE].astype(np.float64)  # (n, k, 2)
    fitted = _fused(anchors, present, steps)
    for row, i in enumerate(present):
        move = shape.similarity(anchors[row], fitted[row])
        out[i] = shape.apply_affine(move, landmarks[i]).astype(np.float32)
    return out


def _fused(
    anchors: NDArray[np.float64], present: list[int], steps: dict[int, track_check.Motion]
) -> NDArray[np.float64]:
    """Per anchor point, argmin over its positions x of sum |x_f - dlib_f|^2 +
    FLOW_WEIGHT * sum |x_(f+1) - step_f(x_f)|^2, over consecutive present frames. The
    system's matrix is the same for every point: it is factorised once."""
    n, k = anchors.shape[:2]
    row_of = {f: r for r, f in enumerate(present)}
    weight = np.sqrt(FLOW_WEIGHT)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    shifts: list[NDArray[np.float64]] = []
    for f, motion in steps.items():
        if f not in row_of or f + 1 not in row_of:
            continue
        # weight * (x_(f+1) - A x_f) = weight * t, two equations (x and y)
        base = 2 * len(shifts)
        a, b = 2 * row_of[f], 2 * row_of[f + 1]
        for c in range(2):
            rows += [base + c, base + c, base + c]
            cols += [b + c, a, a + 1]
            vals += [weight, -weight * motion[c, 0], -weight * motion[c, 1]]
        shifts.append(weight * motion[:2, 2])
    flow = sparse.csr_matrix((vals, (rows, cols)), shape=(2 * len(shifts), 2 * n))
    normal = (sparse.identity(2 * n, format="csc") + (flow.T @ flow)).tocsc()
    solve = factorized(normal)
    t = np.concatenate(shifts) if shifts else np.zeros(0)
    pull = flow.T @ t
    out = np.empty_like(anchors)
    for p in range(k):
        out[:, p] = solve(anchors[:, p].reshape(-1) + pull).reshape(n, 2)
    return out
