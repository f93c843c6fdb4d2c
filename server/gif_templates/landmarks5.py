"""5-point landmarks per template face track (left eye, right eye, nose tip, mouth
corners): what the neural engine aligns with.

Stored as ``FaceTrack.extras["landmarks5"]`` (N, 5, 2) float32, NaN where the face is
absent, so both engines share one analysis. Two sources:

- derived from the smoothed 68 dlib landmarks (eye centres, nose tip 30, mouth
  corners 48/54; :func:`server.vision.shape.landmarks5`), always available, and what
  :func:`track_landmarks5` computes for analyses stored before this extra existed (no
  ``ANALYSIS_VERSION`` bump needed);
- refined with SCRFD keypoints when a detector is handed to the analysis: each
  frame's detections are matched to the track by box overlap, the per-frame offset
  "SCRFD minus derived" is interpolated over frames without a match and smoothed in
  time, then added to the derived points. The track keeps the dlib track's temporal
  smoothness and gains the detector's placement, without jumps where SCRFD misses a
  frame (a raw per-frame mix of the two sources would flicker).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from server.faces.keypoints import match_keypoints
from server.gif_templates.smoothing import savgol_runs
from server.gif_templates.tracks import FaceTrack
from server.types import Frame

LANDMARKS5 = "landmarks5"
OFFSET_WINDOW = 9  # frames over which the SCRFD correction is smoothed

# frame (BGR) -> (boxes (K, 4) left/top/right/bottom, keypoints (K, 5, 2))
FivePointDetect = Callable[[Frame], tuple[NDArray[np.float32], NDArray[np.float32]]]


def derive_landmarks5(landmarks: NDArray[np.floating]) -> NDArray[np.float32]:
    """(N, 5, 2) from (N, 68, 2) dlib landmarks; NaN rows stay NaN."""
    lm = np.asarray(landmarks, np.float32)
    out = np.empty((*lm.shape[:-2], 5, 2), np.float32)
    out[..., 0, :] = lm[..., 36:42, :].mean(-2)
    out[..., 1, :] = lm[..., 42:48, :].mean(-2)
    out[..., 2, :] = lm[..., 30, :]
    out[..., 3, :] = lm[..., 48, :]
    out[..., 4, :] = lm[..., 54, :]
    return out


def track_landmarks5(track: FaceTrack) -> NDArray[np.float32]:
    """The stored 5 points of a track, or derived ones when none (or malformed) are stored."""
    stored = track.extras.get(LANDMARKS5)
    n = len(track.landmarks)
    if stored is not None and np.shape(stored) == (n, 5, 2):
        return np.asarray(stored, np.float32)
    return derive_landmarks5(track.landmarks)


def attach_landmarks5(
    tracks: Sequence[FaceTrack], frames: Sequence[Frame], detect: FivePointDetect | None = None
) -> dict[str, float]:
    """Store ``extras["landmarks5"]`` on every track (refined when ``detect`` is given);
    returns per-track stats (share of present frames with a matching SCRFD face)."""
    detections = [detect(f) for f in frames] if detect is not None and tracks else None
    stats: dict[str, float] = {}
    for track in tracks:
        derived = derive_landmarks5(track.landmarks)
        if detections is None:
            track.extras[LANDMARKS5] = derived
            continue
        refined, matched = refine_landmarks5(track, derived, detections)
        track.extras[LANDMARKS5] = refined
        present = max(int(track.present.sum()), 1)
        stats[f"track{track.track_id}_landmarks5_scrfd"] = round(matched / present, 4)
    return stats


def refine_landmarks5(
    track: FaceTrack,
    derived: NDArray[np.float32],
    detections: Sequence[tuple[NDArray[np.float32], NDArray[np.float32]]],
) -> tuple[NDArray[np.float32], int]:
    """Derived points plus the smoothed SCRFD correction; returns (points, matched frames)."""
    offsets = np.full(derived.shape, np.nan, np.float32)
    for f in map(int, np.flatnonzero(track.present)):
        boxes, kps = detections[f]
        match = match_keypoints(_track_box(track, f), derived[f], boxes, kps)
        if match is not None:
            offsets[f] = match - derived[f]
    matched = np.flatnonzero(~np.isnan(offsets[:, 0, 0]))
    if len(matched) == 0:
        return derived, 0
    present = np.flatnonzero(track.present)
    flat = offsets.reshape(len(offsets), -1)
    filled = np.full_like(flat, np.nan)
    for k in range(flat.shape[1]):  # hold the nearest correction outside matched frames
        filled[present, k] = np.interp(present, matched, flat[matched, k])
    smooth = savgol_runs(filled.reshape(offsets.shape), track.present, OFFSET_WINDOW)
    out = derived + smooth
    out[~track.present] = np.nan
    return out.astype(np.float32), len(matched)


def _track_box(track: FaceTrack, frame: int) -> tuple[float, float, float, float]:
    """The track's detector box in a frame, or the landmarks' extent when none."""
    boxes = track.extras.get("box")
    if boxes is not None and np.isfinite(boxes[frame]).all():
        b = boxes[frame]
        return float(b[0]), float(b[1]), float(b[2]), float(b[3])
    lm = track.landmarks[frame]
    lo, hi = lm.min(0), lm.max(0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])
