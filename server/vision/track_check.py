"""Landmarks checked against the image's own motion, and repaired where they disagree.

dlib sometimes fits a well-formed but misplaced face on a frame: on a fast, blurred
head turn it may put a face 15% too large and half a face to the side, every point
consistent with every other, so no shape test catches it. The swap then pastes the
new face beside the head for those frames. What does catch it is the picture: the
face's features move from frame to frame by what optical flow measures, and a frame
whose landmarks do not follow that motion from its neighbours is out of step.

:func:`repair_track` measures the face's motion between neighbouring frames (a
similarity fitted to features tracked with pyramidal Lucas-Kanade, on points taken
from a temporal median of the track so that a misplaced frame does not steer the
flow), predicts each frame's landmarks from each neighbour's within ``WINDOW``
frames, and drops, worst first, frames that fewer than half of their trusted
neighbours agree with. A dropped frame gets landmarks carried by the measured motion
from the nearest trusted frames on either side (mixed by distance); one with no
trusted frame within ``REACH`` is left out (the template's face shows unchanged
rather than a face off the head).

It runs once per template, in the offline analysis (:mod:`server.gif_templates.repair`),
so renders read the repaired track as stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame
from server.vision import shape

WINDOW = 6  # neighbours on each side that vote on a frame
STEADY = 3  # frames on each side of the temporal median the flow is tracked from
REACH = 6  # furthest trusted frame a repair is carried from
AGREE = 0.08  # prediction error (share of the inter-ocular distance) that still agrees
_TRACKED = np.r_[17:48]  # brows, nose, eyes: textured, and mostly rigid with the head
_WIN, _LEVELS = (21, 21), 3  # Lucas-Kanade window (px) and pyramid levels
_FB_ERROR = 1.0  # px, forward-backward tracking error above which a point is dropped

Motion = NDArray[np.float64]  # (3, 3) similarity, homogeneous


def repair_track(
    frames: Sequence[Frame], landmarks: NDArray[np.float32]
) -> tuple[dict[int, NDArray[np.float32]], list[int]]:
    """``landmarks``: (N, 68, 2), NaN where absent. Returns replacement landmarks for
    the frames found out of step, and the frames that could not be repaired."""
    present = [i for i in range(len(landmarks)) if not np.isnan(landmarks[i, 0, 0])]
    if len(present) < 2 * WINDOW:
        return {}, []
    steps = face_steps(frames, landmarks, present)
    trusted = _vote(landmarks, present, steps)
    repaired: dict[int, NDArray[np.float32]] = {}
    lost: list[int] = []
    for i in present:
        if i in trusted:
            continue
        fix = _carried(landmarks, i, trusted, steps)
        if fix is None:
            lost.append(i)
        else:
            repaired[i] = fix
    return repaired, lost


def _gray(frame: Frame) -> NDArray[np.uint8]:
    return np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), np.uint8)


def face_steps(
    frames: Sequence[Frame], landmarks: NDArray[np.float32], present: list[int]
) -> dict[int, Motion]:
    """Motion of the face from frame i to frame i + 1, for consecutive present frames
    (also read by :mod:`server.vision.track_steady`)."""
    steady = _median_track(landmarks, present)
    grays: dict[int, NDArray[np.uint8]] = {}
    steps: dict[int, Motion] = {}
    for i in present:
        if i + 1 not in steady:
            continue
        a = grays.setdefault(i, _gray(frames[i]))
        b = grays.setdefault(i + 1, _gray(frames[i + 1]))
        m = _similarity_flow(a, b, steady[i][_TRACKED])
        if m is None:  # no texture to follow (a cut, a blur): the steady track's motion
            m = np.vstack([shape.similarity(steady[i], steady[i + 1]), [0.0, 0.0, 1.0]])
        steps[i] = m
    return steps


def _median_track(
    landmarks: NDArray[np.float32], present: list[int]
) -> dict[int, NDArray[np.float32]]:
    """Each frame's points as the median over the present frames within the window: a
    run of up to ``STEADY`` misplaced frames does not move it."""
    out = {}
    for i in present:
        near = [j for j in present if abs(j - i) <= STEADY]
        out[i] = np.median(landmarks[near], axis=0).astype(np.float32)
    return out


def _similarity_flow(
    a: NDArray[np.uint8], b: NDArray[np.uint8], pts: NDArray[np.float32]
) -> Motion | None:
    """Similarity that carries the features around ``pts`` from image ``a`` to ``b``."""
    p0 = pts.reshape(-1, 1, 2).astype(np.float32)
    p1, ok1, _ = cv2.calcOpticalFlowPyrLK(a, b, p0, p0.copy(), winSize=_WIN, maxLevel=_LEVELS)
    if p1 is None:
        return None
    back, ok2, _ = cv2.calcOpticalFlowPyrLK(b, a, p1, p0.copy(), winSize=_WIN, maxLevel=_LEVELS)
    fb = np.linalg.norm((back - p0).reshape(-1, 2), axis=1)
    good = (ok1.ravel() > 0) & (ok2.ravel() > 0) & (fb < _FB_ERROR)
    if good.sum() < 6:
        return None
    m, _ = cv2.estimateAffinePartial2D(
        p0[good], p1[good], method=cv2.RANSAC, ransacReprojThreshold=2.0
    )
    if m is None:
        return None
    return np.vstack([m, [0.0, 0.0, 1.0]]).astype(np.float64)


def _motion(steps: dict[int, Motion], j: int, i: int) -> Motion | None:
    """Motion from frame j to frame i chained from the steps between them."""
    lo, hi = min(i, j), max(i, j)
    m = np.eye(3)
    for k in range(lo, hi):
        if k not in steps:
            return None
        m = steps[k] @ m
    return m if j <= i else np.asarray(np.linalg.inv(m), np.float64)


def _moved(lm: NDArray[np.float32], m: Motion) -> NDArray[np.float64]:
    return np.asarray(lm.astype(np.float64) @ m[:2, :2].T + m[:2, 2], np.float64)


def _error(landmarks: NDArray[np.float32], steps: dict[int, Motion], j: int, i: int) -> float:
    """How far frame j's landmarks carried to frame i land from frame i's (share of the
    inter-ocular distance, over the rigid points); inf where the motion is unknown."""
    m = _motion(steps, j, i)
    if m is None:
        return float("inf")
    d = _moved(landmarks[j], m)[shape.STABLE] - landmarks[i][shape.STABLE]
    rms = float(np.sqrt((d**2).sum(axis=1).mean()))
    return rms / max(shape.interocular(landmarks[i]), 1e-6)


def _vote(landmarks: NDArray[np.float32], present: list[int], steps: dict[int, Motion]) -> set[int]:
    """The frames whose landmarks their trusted neighbours agree with."""
    near = {i: [j for j in present if j != i and abs(j - i) <= WINDOW] for i in present}
    err = {(i, j): _error(landmarks, steps, j, i) for i in present for j in near[i]}
    trusted = set(present)
    while True:
        worst, worst_share = -1, 0.5
        for i in sorted(trusted):
            votes = [err[i, j] for j in near[i] if j in trusted and np.isfinite(err[i, j])]
            if not votes:
                continue
            share = float(np.mean(np.asarray(votes) < AGREE))
            if share < worst_share:
                worst, worst_share = i, share
        if worst < 0:
            return trusted
        trusted.discard(worst)


def _carried(
    landmarks: NDArray[np.float32], i: int, trusted: set[int], steps: dict[int, Motion]
) -> NDArray[np.float32] | None:
    """Frame i's landmarks carried from the nearest trusted frame on each side by the
    measured motion, mixed by distance."""
    preds, weights = [], []
    for side in (-1, 1):
        for d in range(1, REACH + 1):
            j = i + side * d
            if j in trusted:
                m = _motion(steps, j, i)
                if m is not None:
                    preds.append(_moved(landmarks[j], m))
                    weights.append(1.0 / d)
                break
    if not preds:
        return None
    w = np.asarray(weights) / sum(weights)
    return np.asarray(sum(wk * p for wk, p in zip(w, preds, strict=True)), np.float32)
