"""Template face tracks checked against the picture's own motion, offline.

dlib sometimes fits a well-formed face beside the head on a fast, blurred head turn
(see :mod:`server.vision.track_check`). After smoothing, every track is checked once,
at analysis time: frames out of step with the image's motion get landmarks carried
from their trusted neighbours, and frames that cannot be repaired become absent (the
template's own face shows there, not a face off the head). The analysis then measures
the per-frame features, 5-point landmarks and occluders on the repaired landmarks, and
both engines read the repaired track as stored.

The repaired track's head placement is then steadied by the same measured motion
(:mod:`server.vision.track_steady`): the swapped face follows the head instead of
dlib's frame-to-frame drift.

A repaired or lost frame's detector box belonged to the misplaced fit and is cleared
(NaN). Frames that repeat the previous one take its landmarks again afterwards, as the
smoothing step gives them (a held picture keeps a still face).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from server.gif_templates.tracks import FaceTrack
from server.types import Frame
from server.vision import track_check, track_steady


def repair_tracks(
    tracks: Sequence[FaceTrack], frames: Sequence[Frame], repeats: NDArray[np.bool_]
) -> dict[str, float]:
    """Repair and steady every track in place; returns per track the repaired and lost
    frames and the mean shift of the steadied points (px)."""
    stats: dict[str, float] = {}
    for track in tracks:
        repaired, lost = track_check.repair_track(frames, track.landmarks)
        for i, lm in repaired.items():
            track.landmarks[i] = lm
        track.landmarks[lost] = np.nan
        track.present[lost] = False
        changed = [*repaired, *lost]
        if changed and "box" in track.extras:
            track.extras["box"][changed] = np.nan
        before = track.landmarks.copy()
        track.landmarks[:] = track_steady.steady_pose(frames, track.landmarks)
        hold_repeats(track, repeats)
        track.detected &= track.present
        shift = np.linalg.norm(track.landmarks - before, axis=2)[track.present]
        stats[f"track{track.track_id}_steadied_px"] = float(shift.mean()) if shift.size else 0.0
        stats[f"track{track.track_id}_repaired_frames"] = float(len(repaired))
        stats[f"track{track.track_id}_lost_frames"] = float(len(lost))
    return stats


def hold_repeats(track: FaceTrack, repeats: NDArray[np.bool_]) -> None:
    """Frames that repeat the previous one take its landmarks and presence (in place)."""
    for f in np.flatnonzero(repeats):
        track.landmarks[f] = track.landmarks[f - 1]
        track.present[f] = track.present[f - 1]
