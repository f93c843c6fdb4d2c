"""Offline analysis of a template: face tracks with smoothed 68-point landmarks.

Run once per template (``tools.templates``) and stored beside it as ``analysis.npz``
(``np.savez_compressed`` of plain arrays plus a JSON metadata string; loaded with
``allow_pickle=False``). Renders only read it.

Steps: detect faces per frame (HOG; see :mod:`.detection`), link them into tracks
(:mod:`.linking`), drop false positives, fill gaps of up to 5 frames, smooth the
landmarks with Savitzky-Golay on each contiguous run (:mod:`.tracks`), put the main
face first, repair frames whose landmarks are out of step with the picture's own motion
(:mod:`.repair`), then measure the per-frame 5-point landmarks, face features and
occluders on the repaired landmarks. Frames where a face is absent for longer (or that
cannot be repaired) stay absent (NaN).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from server.faces.dlib_models import DlibFaceModels
from server.gif_templates.analysis_io import AnalysisError, load_analysis, save_analysis
from server.gif_templates.detection import DEFAULT_MIN_FACE, FrameDetector
from server.gif_templates.features import attach_face_features
from server.gif_templates.landmarks5 import FivePointDetect, attach_landmarks5
from server.gif_templates.linking import Detection, Linker, RawTrack, box_iou, dedupe
from server.gif_templates.occluders import attach_occluders
from server.gif_templates.repair import hold_repeats, repair_tracks
from server.gif_templates.smoothing import jitter, smooth_landmarks, stable_boxes
from server.gif_templates.tracks import (
    FaceTrack,
    agrees,
    densify,
    fill_gaps,
    keep_real_faces,
    order_tracks,
)
from server.types import Animation, Frame, Landmarks68

# Bump when the analysis changes in a way stored analyses must be rebuilt for
# (3: tracks repaired against the picture's motion, offline instead of per render;
# 4: hair over the face stored with the occluders; 5: head placement steadied by the
# picture's motion; 6: the skin's colour along the face's outline, and its lightness
# spread without its light, stored for the classic engine).
ANALYSIS_VERSION = 6
SCAN_EVERY = 5  # full-frame scan at least every this many frames
# A frame whose pixels differ from the previous one by less than this on average
# (0..255 scale) repeats it: GIFs made from video often hold a frame for two ticks,
# re-dithered. Such frames must show exactly the previous face, or it would move while
# the picture stands still (measured on devkit d12: flicker 1.5x the template's).
REPEAT_MEAN_DIFF = 0.8

__all__ = [
    "ANALYSIS_VERSION",
    "AnalysisError",
    "FaceTrack",
    "TemplateAnalysis",
    "analyse_animation",
    "load_analysis",
    "save_analysis",
]

Progress = Callable[[float], None]


@dataclass
class TemplateAnalysis:
    """Everything renders need to know about a template's faces, frame by frame.

    ``source_sha256`` names the exact source bytes analysed (empty for an in-memory
    animation); ``stats`` holds measurements for humans (timings, jitter), not inputs.
    """

    version: int
    source_sha256: str
    width: int
    height: int
    durations_ms: list[int]
    loop: int
    tracks: list[FaceTrack]
    stats: dict[str, float] = field(default_factory=dict)
    repeats: NDArray[np.bool_] | None = None  # (N,) frame i repeats frame i - 1

    def __post_init__(self) -> None:
        if self.repeats is None:
            self.repeats = np.zeros(len(self.durations_ms), bool)

    @property
    def frame_count(self) -> int:
        return len(self.durations_ms)

    @property
    def main_track(self) -> FaceTrack | None:
        return self.tracks[0] if self.tracks else None

    def faces_at(self, frame: int) -> list[tuple[int, Landmarks68]]:
        """(track_id, landmarks) of the faces present in ``frame``, main track first."""
        return [(t.track_id, t.landmarks[frame]) for t in self.tracks if t.present[frame]]


def analyse_animation(
    anim: Animation,
    models: DlibFaceModels,
    progress: Progress | None = None,
    source_sha256: str = "",
    min_face: int = DEFAULT_MIN_FACE,
    five_points: FivePointDetect | None = None,
) -> TemplateAnalysis:
    """Find, track and smooth the faces of ``anim``.

    ``source_sha256`` is recorded as given: the caller hashes the file it decoded
    (the catalog compares it with the file on disk to spot a stale analysis).
    Each track also gets ``extras["landmarks5"]`` (see :mod:`.landmarks5`), refined
    with ``five_points`` (an SCRFD detector) when given.
    """
    started = time.perf_counter()
    detector = FrameDetector(models, min_face)
    raw_tracks = _detect_and_link(anim.frames, detector, progress)
    n = len(anim.frames)
    repeats = detect_repeats(anim.frames)
    tracks = [densify(t, n) for t in keep_real_faces(raw_tracks, n)]
    per_track = {id(t): _finish_track(t, anim.frames, detector, repeats) for t in tracks}
    tracks = order_tracks(tracks)  # renumbers: main face = track 0
    stats: dict[str, float] = {"raw_tracks": float(len(raw_tracks)), "filled_frames": 0.0}
    for track in tracks:
        for name, value in per_track[id(track)].items():
            if name == "filled":
                stats["filled_frames"] += value
            else:
                stats[f"track{track.track_id}_jitter_{name}"] = value
    stats.update({f"{k}_calls": float(v) for k, v in detector.calls.items()})
    stats.update(repair_tracks(tracks, anim.frames, repeats))
    stats.update(attach_landmarks5(tracks, anim.frames, five_points))
    attach_face_features(tracks, anim.frames)
    attach_occluders(tracks, anim.frames)
    stats["seconds"] = time.perf_counter() - started
    w, h = anim.size
    stats["repeated_frames"] = float(repeats.sum())
    return TemplateAnalysis(
        ANALYSIS_VERSION,
        source_sha256,
        w,
        h,
        list(anim.durations_ms),
        anim.loop,
        tracks,
        stats,
        repeats,
    )


def detect_repeats(frames: list[Frame]) -> NDArray[np.bool_]:
    """Which frames repeat the previous one (see ``REPEAT_MEAN_DIFF``)."""
    out = np.zeros(len(frames), bool)
    for i in range(1, len(frames)):
        a, b = frames[i - 1], frames[i]
        if a.shape == b.shape:
            out[i] = float(np.abs(a.astype(np.int16) - b).mean()) < REPEAT_MEAN_DIFF
    return out


def _finish_track(
    track: FaceTrack, frames: list[Frame], detector: FrameDetector, repeats: NDArray[np.bool_]
) -> dict[str, float]:
    """Fill gaps, refit in steady boxes, smooth; returns frames filled and the jitter
    (pose-free landmark acceleration, in face sizes) after each step.

    Smoothing sees only frames that are not repeats (a held frame is one sample in
    time, not two); repeats then take their predecessor's landmarks."""
    filled = fill_gaps(track, lambda f, box: detector.refit(frames[f], box))
    raw = jitter(track.landmarks, track.present)["shape_accel"]
    _refit_in_stable_boxes(track, frames, detector)
    refitted = jitter(track.landmarks, track.present)["shape_accel"]
    new = ~repeats
    track.landmarks[new] = smooth_landmarks(track.landmarks[new], track.present[new])
    hold_repeats(track, repeats)
    smoothed = jitter(track.landmarks, track.present)["shape_accel"]
    return {"filled": float(filled), "raw": raw, "refit": refitted, "smooth": smoothed}


def _detect_and_link(
    frames: list[Frame], detector: FrameDetector, progress: Progress | None
) -> list[RawTrack]:
    linker = Linker()
    since_scan = SCAN_EVERY
    for index, frame in enumerate(frames):
        live = linker.active(index)
        found = [d for d in (detector.around(frame, t.predict_box(index)) for t in live) if d]
        candidates = dedupe([], found, iou=0.5)
        if since_scan >= SCAN_EVERY or len(candidates) < len(live):
            candidates = dedupe(candidates, detector.scan(frame))
            since_scan = 0
        since_scan += 1
        for track in linker.update(index, candidates):
            _settle_new_track(track, index, frames, detector, linker)
        if progress is not None:
            progress((index + 1) / len(frames))
    return linker.tracks


def _settle_new_track(
    track: RawTrack, index: int, frames: list[Frame], detector: FrameDetector, linker: Linker
) -> None:
    """Give a newly found face a track-style detection, then follow it back in time
    over the frames since the previous scan (it may have appeared between scans)."""
    first = track.observations[index]
    again = detector.around(frames[index], first.box)
    if again is not None:
        track.observations[index] = again
    box = track.observations[index].box
    for back in range(index - 1, max(-1, index - SCAN_EVERY), -1):
        det = detector.around(frames[back], box)
        if det is None or _taken(linker, track, back, det):
            break
        track.observations[back] = det
        box = det.box


def _refit_in_stable_boxes(track: FaceTrack, frames: list[Frame], detector: FrameDetector) -> None:
    """Refit the landmarks inside steady boxes (see :func:`stable_boxes`), keeping a
    refit only where it agrees with the detection-time landmarks."""
    boxes = stable_boxes(track)
    for f in np.flatnonzero(track.present):
        box = (float(boxes[f, 0]), float(boxes[f, 1]), float(boxes[f, 2]), float(boxes[f, 3]))
        fitted = detector.refit(frames[f], box)
        if fitted is not None and agrees(fitted, track.landmarks[f]):
            track.landmarks[f] = fitted
            track.extras["box"][f] = boxes[f]


def _taken(linker: Linker, track: RawTrack, frame: int, det: Detection) -> bool:
    return any(
        other is not track
        and frame in other.observations
        and box_iou(other.observations[frame].box, det.box) > 0.3
        for other in linker.tracks
    )


def main_track_coverage(analysis: TemplateAnalysis) -> float:
    """Fraction of frames where the main face is present (0 without faces)."""
    main = analysis.main_track
    return float(np.mean(main.present)) if main is not None else 0.0
