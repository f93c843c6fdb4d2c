"""Retargeting a clip's landmark motion onto a portrait, frame by frame (no models).

Relative motion with adaptive scale: each frame's expression is the clip's landmark
displacement from its frame 0 in face units (inter-ocular distance, along and across the
eye line), applied to the portrait's landmarks, their mouth closed first
(:mod:`.rest_mouth`: the clip decides the expression, not the selfie), in the
portrait's own face units (the vertical part rescaled by the faces' proportions); the
clip's head turn and nod are measured on a 3-D lift of its landmarks (:mod:`.lift`)
and applied to the portrait's lifted landmarks as rotations; the head's in-plane
motion relative to frame 0 (shift, scale, roll) is applied as one similarity about the
face, moving the landmarks and the ring around the head together. Eyelids close by the
clip's eye-opening ratio; the irises move as the clip's (:mod:`.portrait_eyes`).
:func:`animate_portrait` drives :class:`~server.gif_templates.animate.FaceRig` with it;
the classic motion engine and the motion templates' previews both call it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np

from server.gif_templates.animate import FaceRig, Matrix, Points
from server.gif_templates.lift import DEPTH, capped, fit_turn, turned
from server.gif_templates.motion import as_complex, as_points, face_frame
from server.gif_templates.portrait_eyes import PortraitEyes
from server.gif_templates.rest_mouth import rest_pose
from server.types import Frame, Landmarks68, MotionData

MAX_ROLL = np.radians(20.0)  # beyond this the warp would fold the background
MAX_LOG_SCALE = np.log(1.08)  # more reads as a stretched face, the hair left behind
MAX_SHIFT = 0.3  # IOD
ANIMATE_THREADS = 2
TURN_STEPS = 8  # tries of a smaller head turn before the mesh is drawn back (0.85^7: 0.32)
BLINK_FROM = 0.45  # lids lowered less than this (looking down) are not painted shut
BLINK_WINDOW_MS = 400  # a blink's dip is measured against the widest eye this near
BLINK_FROM_DIP, BLINK_DIP = 0.2, 0.45  # opening dips: where a blink starts, shut
BLINK_SHUT = 0.8  # an eye this closed in a blink reads shut
BLINK_HALF = 0.5  # in a blink of both eyes, an eye this closed follows the other
_LIDS = (((37, 41), (38, 40)), ((43, 47), (44, 46)))  # (upper, lower) per eye
_LIDS_FLAT = [pair for eye in _LIDS for pair in eye]
_CORNERS = ((36, 39), (42, 45))
_INNER_LIPS = ((61, 67), (62, 66), (63, 65))
_LOWER_LIP = [56, 57, 58, 65, 66, 67]


def retarget(
    face: Points,
    motion: MotionData,
    index: int,
    turn_share: float = 1.0,
    shut: np.ndarray | None = None,
) -> tuple[Points, Matrix, tuple[float, float]]:
    """Frame ``index`` of ``motion`` on ``face`` (68, 2 pixels): the moved landmarks, the
    head's (2, 3) transform and how closed each eye is (0..1). The clip's head turn and
    nod (:func:`~.lift.fit_turn`) are taken out of its displacements and applied to the
    face as a rotation of its 3-D lift, ``turn_share`` of it (see :func:`turn`); what is
    left is expression. ``shut``: :func:`blinks` of the motion, when already known."""
    assert motion.shape is not None and motion.pose is not None
    origin, axis = face_frame(face)
    rest = (as_complex(face) - origin) / axis
    clip0, clip = as_complex(motion.shape[0]), as_complex(motion.shape[index])
    yaw, pitch = fit_turn(clip0, clip)  # all of the turn is taken out of the clip...
    delta = _proportioned(clip - turned(clip0, DEPTH, yaw, pitch), rest, clip0)
    ratio = _eyes_closed(motion.shape[index], motion.shape[0])
    blink = (blinks(motion) if shut is None else shut)[index]
    closed = (max(ratio[0], float(blink[0])), max(ratio[1], float(blink[1])))
    fits = np.array(capped(yaw, pitch)) * turn_share
    facing = turned(rest, DEPTH, *fits)  # ...and as much as fits put in
    target = _shut_lips(_close_lids(facing + _lids_follow_corners(delta), facing, closed))
    b, shift = _head(motion.pose[index])
    moved = origin + axis * (b * target + shift)
    head = np.array(
        [[b.real, -b.imag, 0.0], [b.imag, b.real, 0.0]], np.float64
    )  # z -> origin + b (z - origin) + axis * shift
    offset = origin - b * origin + axis * shift
    head[:, 2] = (offset.real, offset.imag)
    return as_points(moved), head, closed


def turn(motion: MotionData, index: int, share: float = 1.0) -> tuple[float, float]:
    """The clip's (yaw, pitch) at frame ``index`` relative to frame 0 (radians, capped),
    times ``share``."""
    assert motion.shape is not None
    yaw, pitch = capped(*fit_turn(as_complex(motion.shape[0]), as_complex(motion.shape[index])))
    return yaw * share, pitch * share


def posed(
    rig: FaceRig, face: Points, motion: MotionData, index: int, shut: np.ndarray | None = None
) -> tuple[Points, Matrix, tuple[float, float], tuple[float, float]]:
    """What :meth:`FaceRig.render` takes for frame ``index``: the landmarks, the head's
    transform, how closed each eye is and the head turn. Where the mesh would fold, the
    turn is tried at 0.85, 0.85^2 ... of itself (``TURN_STEPS`` tries in all) before the
    render draws the whole mesh back toward the rest pose, and the mouth with it: the
    turn is what the warp cannot show. When no smaller turn helps (the fold is the
    expression's), the whole turn is kept."""
    shut = blinks(motion) if shut is None else shut
    whole = None
    share = 1.0
    for _ in range(TURN_STEPS):
        points, head, closed = retarget(face, motion, index, share, shut)
        turning = turn(motion, index, share)
        if not rig.would_fold(points, head, turning):
            return points, head, closed, turning
        whole = whole or (points, head, closed, turning)  # the first try: the whole turn
        share *= 0.85
    assert whole is not None
    return whole


def _head(pose: np.ndarray) -> tuple[complex, complex]:
    """(scale and roll as one complex factor, shift in face units), capped."""
    dx, dy, log_scale, roll = (float(v) for v in pose)
    b = np.exp(np.clip(log_scale, -MAX_LOG_SCALE, MAX_LOG_SCALE)) * np.exp(
        1j * np.clip(roll, -MAX_ROLL, MAX_ROLL)
    )
    shift = complex(dx, dy)
    if abs(shift) > MAX_SHIFT:
        shift *= MAX_SHIFT / abs(shift)
    return complex(b), shift


def _proportioned(delta: np.ndarray, rest: np.ndarray, clip0: np.ndarray) -> np.ndarray:
    """The vertical part of a displacement rescaled by how long the portrait's face is
    compared with the clip's (both in IOD, nose bridge to chin), within 0.8..1.25."""
    ratio = (rest[8] - rest[27]).imag / max((clip0[8] - clip0[27]).imag, 1e-6)
    k = float(np.clip(ratio, 0.8, 1.25))
    return np.asarray(delta.real + 1j * k * delta.imag)


def _lids_follow_corners(delta: np.ndarray) -> np.ndarray:
    """The eyelids move with their eye's corners; their closing is handled by ratio."""
    out = delta.copy()
    for eye, (a, b) in zip(_LIDS, _CORNERS, strict=True):
        corner = (delta[a] + delta[b]) / 2
        for upper, lower in eye:
            out[upper] = out[lower] = corner
    return out


def blinks(motion: MotionData) -> np.ndarray:
    """(N, 2) how shut each eye is in a blink (0..1), per frame. dlib's landmarks follow
    a closing lid only part of the way (a shut eye reads as about half open), so a blink
    is found as a quick dip of the eye's opening below its widest within
    ``BLINK_WINDOW_MS`` either side, and a dip of ``BLINK_DIP`` or more counts as shut.
    A look down lowers the lids for longer than the window and is not a blink. An eye
    the clip's picture showed shut (``seen_shut``, a wink dlib kept open) is shut."""
    assert motion.shape is not None
    shape = np.asarray(motion.shape, np.float64)
    gaps = [np.linalg.norm(shape[:, lo] - shape[:, up], axis=-1) for up, lo in _LIDS_FLAT]
    opening = np.stack([np.mean(gaps[:2], 0), np.mean(gaps[2:], 0)], 1)  # (N, 2)
    starts = np.concatenate([[0.0], np.cumsum(motion.durations_ms)[:-1]])
    out = np.zeros_like(opening)
    for i, t in enumerate(starts):
        near = np.abs(starts - t) <= BLINK_WINDOW_MS
        widest = np.maximum(opening[near].max(axis=0), 1e-6)
        dip = 1.0 - opening[i] / widest
        out[i] = np.clip((dip - BLINK_FROM_DIP) / (BLINK_DIP - BLINK_FROM_DIP), 0.0, 1.0)
    if motion.seen_shut is not None:  # shut in the picture, open by the landmarks
        out = np.maximum(out, np.asarray(motion.seen_shut, np.float64))
    return _together(out)


def _together(shut: np.ndarray) -> np.ndarray:
    """Both eyes close alike in a blink: dlib reads one eye's lids later or less far
    than the other's (behind glasses, on a turned face), and painted as read, a blink
    shows a frame of one eye shut and the other half open: a wink. In a run of frames
    where either eye closes (from ``BLINK_FROM``) and both read shut together at least
    once, an eye at least ``BLINK_HALF`` closed takes the other's amount. A wink (the
    other eye never shut in its run, or only opening) is left as it is."""
    out = shut.copy()
    closing = shut.max(axis=1) >= BLINK_FROM
    start = 0
    while start < len(shut):
        end = start + 1
        while end < len(shut) and closing[end] == closing[start]:
            end += 1
        run = slice(start, end)
        if closing[start] and (shut[run].min(axis=1) >= BLINK_SHUT).any():
            follow = shut[run].min(axis=1) >= BLINK_HALF
            out[run][follow] = shut[run][follow].max(axis=1, keepdims=True)
        start = end
    return out


def _eyes_closed(shape: np.ndarray, shape0: np.ndarray) -> tuple[float, float]:
    def opening(pts: np.ndarray, eye: tuple[tuple[int, int], ...]) -> float:
        return float(np.mean([np.linalg.norm(pts[lo] - pts[up]) for up, lo in eye]))

    amounts = []
    for eye in _LIDS:
        ratio = opening(shape, eye) / max(opening(shape0, eye), 1e-3)
        amounts.append(float(np.clip(1.0 - ratio, 0.0, 1.0)))
    return amounts[0], amounts[1]


def _close_lids(z: np.ndarray, rest: np.ndarray, closed: tuple[float, float]) -> np.ndarray:
    for eye, amount in zip(_LIDS, closed, strict=True):
        for upper, lower in eye:
            gap = rest[lower] - rest[upper]
            z[upper] += gap * 0.88 * amount
            z[lower] -= gap * 0.12 * amount
    return z


def _shut_lips(z: np.ndarray) -> np.ndarray:
    """Inner lips never cross: a lower point above its upper one meets it halfway."""
    for upper, lower in _INNER_LIPS:
        if z[lower].imag < z[upper].imag:
            mid = (z[upper] + z[lower]) / 2
            z[upper] = z[lower] = mid
    return z


def opened_mouth(face: Points) -> Points:
    """``face`` with the lower lip dropped, so the mesh has triangles inside the lips."""
    axis = face_frame(face)[1]
    z = as_complex(face)
    z[_LOWER_LIP] += axis * 0.15j
    return as_points(z)


def animate_portrait(
    portrait: Frame,
    landmarks: Landmarks68,
    motion: MotionData,
    progress: Callable[[float], None] | None = None,
    threads: int = ANIMATE_THREADS,
) -> list[Frame]:
    """``motion.frame_count`` frames of ``portrait`` moving as the clip did. Frames are
    independent once the rig is built, so ``threads`` warp them side by side (OpenCV and
    NumPy release the GIL for the pixel work)."""
    if motion.format != "landmarks" or motion.shape is None or motion.pose is None:
        raise ValueError(f"landmark retargeting cannot play {motion.format} motion")
    rig, face = portrait_rig(portrait, landmarks)
    shut = blinks(motion)
    eyes = None
    if motion.gaze is not None:
        eyes = PortraitEyes(rig.picture, landmarks, motion.gaze)
        eyes = eyes if eyes.moves else None
    lock = threading.Lock()
    done = [0]

    def one(i: int) -> Frame:
        points, head, closed, turning = posed(rig, face, motion, i, shut)
        blink = (_blink(closed[0]), _blink(closed[1]))
        irises = None if eyes is None else partial(eyes.move, index=i)
        frame = rig.render(points, head, blink, turning, irises)
        with lock:
            done[0] += 1
            if progress is not None:
                progress(done[0] / motion.frame_count)
        return frame

    if threads <= 1:
        return [one(i) for i in range(motion.frame_count)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, range(motion.frame_count)))


def portrait_rig(portrait: Frame, landmarks: Landmarks68) -> tuple[FaceRig, Points]:
    """The portrait's rig and the landmarks a clip's motion starts from: the picture's
    with the mouth closed (:mod:`.rest_mouth`), not with its own expression."""
    picture = np.asarray(landmarks, np.float64)
    opened = opened_mouth(picture)
    rig = FaceRig(portrait, picture, opened)
    face = rest_pose(picture, rig.folds)
    rig.set_rest(face)
    return rig, face


def _blink(closed: float) -> float:
    """How much eyelid to paint: none for lowered lids, all for a shut eye."""
    return float(np.clip((closed - BLINK_FROM) / (1.0 - BLINK_FROM), 0.0, 1.0))
