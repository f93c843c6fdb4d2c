"""From linked detections to clean face tracks: false positives dropped, short gaps
filled (smoothing lives in :mod:`.smoothing`).

Arrays here are per track and per frame: ``landmarks`` (N, 68, 2) float32 with NaN
where the face is absent, boolean masks (N,).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from server.gif_templates.linking import RawTrack
from server.types import Landmarks68

MAX_FILL_GAP = 5  # frames; longer absences stay absent
MIN_DETECTED_FRAMES = 3  # a real face is seen in at least this many frames (or all of them)
MIN_TRACK_SCORE = 0.2  # median HOG score below this: a face-like pattern, not a face
REFIT_TOLERANCE = 0.12  # refitted landmarks may differ this much (in face sizes) from interpolation
BoxArray = tuple[float, float, float, float]
Refit = Callable[[int, BoxArray], Landmarks68 | None]


@dataclass
class FaceTrack:
    """One face through the animation.

    ``landmarks`` are smoothed, NaN where absent; ``present`` marks frames with a face
    (detected or gap-filled), ``detected`` those where the detector found it. ``extras``
    holds further per-track arrays saved and loaded generically (this module stores
    ``box`` (N, 4) left/top/right/bottom and ``score`` (N,) HOG score, NaN if undetected).
    """

    track_id: int
    landmarks: NDArray[np.float32]
    present: NDArray[np.bool_]
    detected: NDArray[np.bool_]
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def face_size(self) -> float:
        """Median face size in pixels over the present frames (0 if never present)."""
        sizes = face_sizes(self.landmarks[self.present])
        return float(np.median(sizes)) if len(sizes) else 0.0


def face_sizes(landmarks: NDArray[np.floating]) -> NDArray[np.float64]:
    """Per frame, sqrt of the area of the box around jaw and brows (pixels)."""
    pts = np.asarray(landmarks, np.float64)[..., :27, :]
    extent = pts.max(axis=-2) - pts.min(axis=-2)
    return np.sqrt(np.maximum(extent[..., 0], 1.0) * np.maximum(extent[..., 1], 1.0))


def keep_real_faces(tracks: list[RawTrack], n_frames: int) -> list[RawTrack]:
    """Drop tracks seen in too few frames or with a weak median detector score."""
    needed = min(MIN_DETECTED_FRAMES, n_frames)
    kept = []
    for track in tracks:
        scores = [d.score for d in track.observations.values()]
        if len(scores) >= needed and float(np.median(scores)) >= MIN_TRACK_SCORE:
            kept.append(track)
    return kept


def densify(track: RawTrack, n_frames: int) -> FaceTrack:
    """Per-frame arrays of a linked track (raw landmarks, not yet filled or smoothed)."""
    landmarks = np.full((n_frames, 68, 2), np.nan, np.float32)
    boxes = np.full((n_frames, 4), np.nan, np.float32)
    scores = np.full(n_frames, np.nan, np.float32)
    for frame, det in track.observations.items():
        landmarks[frame] = det.landmarks
        boxes[frame] = det.box
        scores[frame] = det.score
    detected = ~np.isnan(scores)
    return FaceTrack(
        track.track_id, landmarks, detected.copy(), detected, {"box": boxes, "score": scores}
    )


def internal_gaps(present: NDArray[np.bool_], max_gap: int) -> list[tuple[int, int]]:
    """(start, stop) of absent runs with present frames on both sides, at most ``max_gap`` long."""
    idx = np.flatnonzero(present)
    gaps = []
    for a, b in itertools.pairwise(idx):
        if 1 < b - a <= max_gap + 1:
            gaps.append((int(a) + 1, int(b)))
    return gaps


def fill_gaps(track: FaceTrack, refit: Refit | None = None, max_gap: int = MAX_FILL_GAP) -> int:
    """Fill short internal gaps in place; returns the number of frames filled.

    The box is interpolated from the neighbouring frames; ``refit`` (dlib's landmark
    predictor inside that box) is tried first and kept when it agrees with the
    interpolated landmarks, otherwise the interpolated landmarks are used.
    """
    boxes = track.extras["box"]
    filled = 0
    for start, stop in internal_gaps(track.present, max_gap):
        before, after = start - 1, stop
        for frame in range(start, stop):
            w = (frame - before) / (after - before)
            box = (1 - w) * boxes[before] + w * boxes[after]
            guess = (1 - w) * track.landmarks[before] + w * track.landmarks[after]
            track.landmarks[frame] = _refit_or(guess, refit, frame, box)
            boxes[frame] = box
            track.present[frame] = True
            filled += 1
    return filled


def _refit_or(guess: np.ndarray, refit: Refit | None, frame: int, box: np.ndarray) -> np.ndarray:
    if refit is None:
        return guess
    fitted = refit(frame, (float(box[0]), float(box[1]), float(box[2]), float(box[3])))
    if fitted is None or not agrees(fitted, guess):
        return guess
    return np.asarray(fitted, np.float32)


def agrees(candidate: NDArray[np.floating], reference: NDArray[np.floating]) -> bool:
    """Whether two landmark sets differ by at most REFIT_TOLERANCE face sizes on average."""
    error = np.linalg.norm(np.asarray(candidate, np.float64) - reference, axis=1).mean()
    return bool(error <= REFIT_TOLERANCE * float(face_sizes(reference)))


def runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(start, stop) of the contiguous True runs."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def order_tracks(tracks: list[FaceTrack]) -> list[FaceTrack]:
    """Main track first (most present frames x face size), ids renumbered 0..k-1."""
    ranked = sorted(tracks, key=lambda t: (-int(t.present.sum()) * t.face_size, t.track_id))
    for index, track in enumerate(ranked):
        track.track_id = index
    return ranked
