"""Online linking of per-frame face detections into tracks (pure numpy/scipy).

Each frame's detections are assigned to the live tracks with the Hungarian method. The
cost is the distance between a detection's centre and the track's predicted centre
(constant velocity from its last two observations), relative to the face size, so
two faces crossing paths keep their identities, and a track survives a few frames
without a detection (missed frame, brief occlusion).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from server.types import Landmarks68
from server.vision.boxes import box_iou

# A track stays linkable this many frames after its last detection.
MAX_LINK_GAP = 15
# Gates: centre distance (in face sizes, grown per missed frame) and size ratio.
_MAX_CENTRE_COST = 0.6
_COST_GROWTH_PER_FRAME = 0.08
_MAX_SIZE_RATIO = 1.6
# Velocity extrapolation is capped: a long-lost face is expected near where it was.
_MAX_EXTRAPOLATE = 4


@dataclass(frozen=True)
class Detection:
    """One face in one frame: box (left, top, right, bottom) in pixels, 68 landmarks, score."""

    box: tuple[float, float, float, float]
    landmarks: Landmarks68
    score: float

    @property
    def centre(self) -> np.ndarray:
        left, top, right, bottom = self.box
        return np.array([(left + right) / 2.0, (top + bottom) / 2.0])

    @property
    def size(self) -> float:
        left, top, right, bottom = self.box
        return float(np.sqrt(max(right - left, 1.0) * max(bottom - top, 1.0)))


@dataclass
class RawTrack:
    """Observations of one face, keyed by frame index (may be filled out of order)."""

    track_id: int
    observations: dict[int, Detection] = field(default_factory=dict)

    @property
    def first(self) -> int:
        return min(self.observations)

    @property
    def last(self) -> int:
        return max(self.observations)

    def predict_box(self, frame: int) -> tuple[float, float, float, float]:
        """Box expected at ``frame``: the last centre moved by the recent velocity, with
        the median size of the last few boxes (HOG box sizes jump between pyramid
        levels, so sizes are not extrapolated)."""
        last = self.last
        recent = sorted(f for f in self.observations if last - 4 <= f <= last)
        centre = self.observations[last].centre
        if len(recent) >= 2:
            prev = recent[-2]
            velocity = (centre - self.observations[prev].centre) / (last - prev)
            centre = centre + velocity * min(frame - last, _MAX_EXTRAPOLATE)
        boxes = np.array([self.observations[f].box for f in recent], float)
        half_w = float(np.median(boxes[:, 2] - boxes[:, 0])) / 2
        half_h = float(np.median(boxes[:, 3] - boxes[:, 1])) / 2
        cx, cy = float(centre[0]), float(centre[1])
        return (cx - half_w, cy - half_h, cx + half_w, cy + half_h)


def link_cost(track: RawTrack, det: Detection, frame: int) -> float:
    """Centre distance to the prediction in face sizes; ``inf`` outside the gates."""
    predicted = Detection(track.predict_box(frame), det.landmarks, 0.0)
    ratio = det.size / max(predicted.size, 1e-6)
    if not 1 / _MAX_SIZE_RATIO <= ratio <= _MAX_SIZE_RATIO:
        return float("inf")
    cost = float(np.linalg.norm(det.centre - predicted.centre) / predicted.size)
    gate = _MAX_CENTRE_COST + _COST_GROWTH_PER_FRAME * (frame - track.last - 1)
    return cost if cost <= gate else float("inf")


class Linker:
    """Feeds frames in order; keeps every track it ever started in ``tracks``."""

    def __init__(self, max_gap: int = MAX_LINK_GAP) -> None:
        self.max_gap = max_gap
        self.tracks: list[RawTrack] = []

    def active(self, frame: int) -> list[RawTrack]:
        """Tracks that may still continue at ``frame``."""
        return [t for t in self.tracks if 0 < frame - t.last <= self.max_gap + 1]

    def update(self, frame: int, detections: Sequence[Detection]) -> list[RawTrack]:
        """Assign ``detections`` of ``frame`` to tracks; returns the tracks it started."""
        live = self.active(frame)
        assigned: set[int] = set()
        if live and detections:
            costs = np.array([[link_cost(t, d, frame) for d in detections] for t in live])
            finite = np.where(np.isfinite(costs), costs, 1e6)
            for row, col in zip(*linear_sum_assignment(finite), strict=True):
                if np.isfinite(costs[row, col]):
                    live[row].observations[frame] = detections[col]
                    assigned.add(int(col))
        started = []
        for index, det in enumerate(detections):
            if index not in assigned:
                track = RawTrack(len(self.tracks), {frame: det})
                self.tracks.append(track)
                started.append(track)
        return started


def link_all(
    per_frame: Sequence[Sequence[Detection]], max_gap: int = MAX_LINK_GAP
) -> list[RawTrack]:
    """Link a whole sequence of per-frame detections (convenience for tests and tools)."""
    linker = Linker(max_gap)
    for frame, detections in enumerate(per_frame):
        linker.update(frame, detections)
    return linker.tracks


def dedupe(
    preferred: Sequence[Detection], others: Sequence[Detection], iou: float = 0.3
) -> list[Detection]:
    """``preferred`` plus those of ``others`` that overlap none of them."""
    kept = list(preferred)
    for det in others:
        if all(box_iou(det.box, k.box) < iou for k in kept):
            kept.append(det)
    return kept
