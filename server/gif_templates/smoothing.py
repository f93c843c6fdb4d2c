"""Temporal smoothing of face tracks (offline, so filters may look ahead).

Savitzky-Golay filters (order 2) on each contiguous run of present frames, applied to a
pose/shape split of the landmarks so fast head motion is not lagged; see
:func:`smooth_landmarks`. Also the steady boxes landmarks are refitted in, and the
jitter measures used to report what smoothing did.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.signal import savgol_filter

from server.gif_templates.tracks import FaceTrack, face_sizes, runs

SAVGOL_ORDER = 2
BOX_WINDOW = 9  # frames, for the box that landmarks are refitted in
# Savitzky-Golay window per region: the jaw outline is the noisiest dlib output and moves
# slowly; eyelids blink within two frames, so they get the shortest window.
JAW, BROWS, NOSE, EYES, MOUTH = (
    np.arange(0, 17),
    np.arange(17, 27),
    np.arange(27, 36),
    np.arange(36, 48),
    np.arange(48, 68),
)
RIGID = np.r_[27:48]  # nose and eyes: the points that move with the head
POSE_WINDOW = 7  # frames; see smooth_landmarks
# Typical frame-to-frame noise of the fitted pose (centre x, y in face sizes, log scale,
# angle in radians), measured on talking-head clips; larger departures are motion.
POSE_NOISE = (0.004, 0.004, 0.015, 0.008)
# Shape departures (per point, in face sizes) above this are expression, not noise:
# a laugh at 15 fps moves the lips faster than a window-7 filter can follow.
SHAPE_NOISE = 0.02
SMOOTH_WINDOWS: tuple[tuple[NDArray[np.int_], int], ...] = (
    (JAW, 9),
    (BROWS, 7),
    (NOSE, 7),
    (EYES, 5),
    (MOUTH, 7),
)


def savgol_runs(
    values: NDArray[np.floating], present: NDArray[np.bool_], window: int
) -> NDArray[np.float32]:
    """Savitzky-Golay (order 2) along axis 0 on each contiguous run of present frames;
    runs shorter than the window get the longest odd window that fits (or none)."""
    out = np.array(values, np.float32, copy=True)
    for start, stop in runs(present):
        length = stop - start
        win = min(window, length if length % 2 else length - 1)
        if win > SAVGOL_ORDER:
            seg = np.asarray(values[start:stop], np.float64)
            out[start:stop] = savgol_filter(seg, win, SAVGOL_ORDER, axis=0, mode="interp")
    return out


def smooth_landmarks(
    landmarks: NDArray[np.float32], present: NDArray[np.bool_]
) -> NDArray[np.float32]:
    """Temporal smoothing that keeps fast head motion.

    Each frame is split into a head pose (similarity transform fitted on the rigid
    points: nose and eyes) and the face shape in a pose-free frame. Both get
    Savitzky-Golay filters (order 2; the shape with the windows of ``SMOOTH_WINDOWS``),
    but where a value departs from its smoothed curve by much more than the noise level
    (``POSE_NOISE``, ``SHAPE_NOISE``) the measurement wins, smoothly: weight
    d^4 / (d^4 + noise^4). Noise is removed and a shaking head or a fast laugh is
    followed instead of lagged (a plain window-7 filter put the face 10 % of its size
    off on devkit d12's head shake).
    """
    out = np.array(landmarks, np.float32, copy=True)
    for start, stop in runs(present):
        pose, shape = split_pose(landmarks[start:stop])
        every = np.ones(stop - start, bool)
        pose = _robust_smooth(pose, every, float(face_sizes(landmarks[start])))
        out[start:stop] = join_pose(pose, _smooth_shape(shape, every))
    return out


def _smooth_shape(shape: np.ndarray, every: NDArray[np.bool_]) -> np.ndarray:
    smooth = np.empty_like(shape)
    for points, window in SMOOTH_WINDOWS:
        smooth[:, points] = savgol_runs(shape[:, points], every, window)
    size = float(face_sizes(shape[:1])[0])
    dev = shape - smooth
    d2 = (dev**2).sum(axis=-1, keepdims=True)
    tau2 = (SHAPE_NOISE * size) ** 2
    return smooth + d2**2 / (d2**2 + tau2**2) * dev


def _robust_smooth(pose: np.ndarray, every: NDArray[np.bool_], size: float) -> np.ndarray:
    smooth = savgol_runs(pose, every, POSE_WINDOW).astype(np.float64)
    tau = np.asarray(POSE_NOISE) * (size, size, 1.0, 1.0)
    dev = pose - smooth
    weight = dev**4 / (dev**4 + tau**4)
    return smooth + weight * dev


def split_pose(landmarks: NDArray[np.floating]) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the pose (cx, cy, log scale, angle relative to frame 0) and the
    landmarks in a pose-free frame: centred on the rigid points, at frame 0's scale."""
    z = _complex(landmarks)
    ref = z[0, RIGID] - z[0, RIGID].mean()
    centre = z[:, RIGID].mean(axis=1)
    moved = z[:, RIGID] - centre[:, None]
    a = (moved * ref.conj()).sum(axis=1) / (np.abs(ref) ** 2).sum()
    angle = np.unwrap(np.angle(a))
    pose = np.stack([centre.real, centre.imag, np.log(np.abs(a)), angle], axis=1)
    shape = (z - centre[:, None]) / a[:, None]
    return pose, np.stack([shape.real, shape.imag], axis=-1)


def join_pose(pose: np.ndarray, shape: np.ndarray) -> NDArray[np.float32]:
    """Inverse of :func:`split_pose`."""
    a = np.exp(pose[:, 2]) * np.exp(1j * pose[:, 3])
    centre = pose[:, 0] + 1j * pose[:, 1]
    w = _complex(shape) * a[:, None] + centre[:, None]
    return np.stack([w.real, w.imag], axis=-1).astype(np.float32)


def _complex(points: NDArray[np.floating]) -> np.ndarray:
    pts = np.asarray(points, np.float64)
    return pts[..., 0] + 1j * pts[..., 1]


def stable_boxes(track: FaceTrack, window: int = BOX_WINDOW) -> NDArray[np.float32]:
    """Detector-style boxes that do not jump: predicted from the landmarks with the
    track's own box-to-landmarks offset and scale, then smoothed over time.

    HOG boxes come in pyramid-level sizes (steps of ~20 %), and dlib's landmark
    predictor follows its box, so refitting inside these boxes removes most jitter.
    """
    boxes = np.full((len(track.present), 4), np.nan, np.float32)
    idx = np.flatnonzero(track.present)
    if len(idx) == 0:
        return boxes
    pts = track.landmarks[idx, :27].astype(np.float64)
    centre = (pts.min(axis=1) + pts.max(axis=1)) / 2
    size = face_sizes(track.landmarks[idx])[:, None]
    det_box = np.asarray(track.extras["box"], np.float64)[idx]
    det = track.detected[idx]
    box_centre = (det_box[:, :2] + det_box[:, 2:]) / 2
    box_wh = det_box[:, 2:] - det_box[:, :2]
    offset = np.median(((box_centre - centre) / size)[det], axis=0)
    scale = np.median((box_wh / size)[det], axis=0)
    params = np.concatenate([centre + offset * size, scale * size], axis=1)  # cx, cy, w, h
    smooth = savgol_runs(_spread(params, idx, len(boxes)), track.present, window)[idx]
    boxes[idx, :2] = smooth[:, :2] - smooth[:, 2:] / 2
    boxes[idx, 2:] = smooth[:, :2] + smooth[:, 2:] / 2
    return boxes


def _spread(values: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    out = np.full((n, *values.shape[1:]), np.nan)
    out[idx] = values
    return out


def jitter(landmarks: NDArray[np.floating], present: NDArray[np.bool_]) -> dict[str, float]:
    """Mean per-point landmark motion over consecutive present frames, in face sizes:
    ``motion`` (first difference), ``accel`` (second difference) and ``shape_accel``
    (second difference of the pose-free shape: expression plus detector noise, without
    head motion; the closest of the three to what a viewer sees as jitter)."""
    parts: dict[str, list[np.ndarray]] = {"motion": [], "accel": [], "shape_accel": []}
    for start, stop in runs(present):
        seg = np.asarray(landmarks[start:stop], np.float64)
        if len(seg) < 3:
            continue
        size = face_sizes(seg)[:, None]
        shape = split_pose(seg)[1]
        parts["motion"].append(np.linalg.norm(np.diff(seg, axis=0), axis=2) / size[1:])
        parts["accel"].append(np.linalg.norm(np.diff(seg, 2, axis=0), axis=2) / size[2:])
        parts["shape_accel"].append(
            np.linalg.norm(np.diff(shape, 2, axis=0), axis=2) / face_sizes(shape[:1])[0]
        )
    return {k: float(np.mean(np.concatenate(v))) if v else 0.0 for k, v in parts.items()}
