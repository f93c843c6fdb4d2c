"""Per-frame statistics of a template's faces that engines need and that depend only on
the template: computed once, offline, and stored with the analysis as track extras.

- ``colour_stats`` (N, 2, 3) float32: Lab mean and standard deviation of the face's
  skin (cheeks, nose, forehead band), NaN where the face is absent;
- ``detail`` (N,) float32: fine-detail energy of the face (how sharp or motion-blurred
  it is), NaN where absent;
- ``seam_edges`` (N, SECTORS, 4) float32: the skin's colour and weight in sectors along
  the face's outline, averaged over ``SEAM_WINDOW`` frames
  (:func:`server.vision.seam.track_edges`), where a swapped face's edge will meet it;
- ``light_spread`` (N,) float32: the skin's lightness spread without its lighting
  (:func:`server.vision.shading.face_unlit_spread`), NaN where absent;
- ``iris`` (N, 2) float32: each eye's iris place across it (image-left eye first), NaN
  where not read (:func:`server.vision.gaze.frame_reads`);
- ``seen_shut`` (N, 2) float32: 1 where the picture shows the eye shut, 0 elsewhere
  (:func:`server.vision.eye_state.track_seen_shut`).

Analyses stored before these existed are still valid: engines compute what is missing
(:func:`track_features`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from server.gif_templates.occluders import GLASSES, OCCLUDER, stored_occluder
from server.gif_templates.tracks import FaceTrack
from server.types import Frame
from server.vision import eye_state, gaze, seam
from server.vision.color import STATS_WINDOW, smooth_stats
from server.vision.detail import face_detail
from server.vision.masks import face_colour_stats
from server.vision.shading import face_unlit_spread

COLOUR_STATS = "colour_stats"
DETAIL = "detail"
SEAM_EDGES = "seam_edges"
LIGHT_SPREAD = "light_spread"
IRIS = "iris"
SEEN_SHUT = "seen_shut"
SEAM_WINDOW = STATS_WINDOW  # the colour window the classic engine uses by default


def face_features(
    frames: Sequence[Frame], landmarks: NDArray[np.float32], present: NDArray[np.bool_]
) -> dict[str, NDArray[np.float32]]:
    n = len(frames)
    stats = np.full((n, 2, 3), np.nan, np.float32)
    details = np.full(n, np.nan, np.float32)
    spreads = np.full(n, np.nan, np.float32)
    for i in map(int, np.flatnonzero(present)):
        stats[i] = face_colour_stats(frames[i], landmarks[i])
        details[i] = face_detail(frames[i], landmarks[i])
        spreads[i] = face_unlit_spread(frames[i], landmarks[i])
    colour = smooth_stats(stats, SEAM_WINDOW)
    edges = seam.track_edges(frames, landmarks, colour, SEAM_WINDOW)
    at = [int(i) for i in np.flatnonzero(present)]
    return {
        COLOUR_STATS: stats,
        DETAIL: details,
        SEAM_EDGES: edges,
        LIGHT_SPREAD: spreads,
        IRIS: gaze.frame_reads(frames, landmarks, at),
        SEEN_SHUT: eye_state.track_seen_shut(frames, landmarks, at).astype(np.float32),
    }


def attach_face_features(tracks: Sequence[FaceTrack], frames: Sequence[Frame]) -> None:
    """Store the features of every track in its extras."""
    for track in tracks:
        track.extras.update(face_features(frames, track.landmarks, track.present))


def track_features(track: FaceTrack) -> dict[str, NDArray[np.float32]]:
    """The stored features of a track that have the right shape (may be empty)."""
    n = len(track.landmarks)
    shapes = {
        COLOUR_STATS: (n, 2, 3),
        DETAIL: (n,),
        LIGHT_SPREAD: (n,),
        GLASSES: (n,),
        IRIS: (n, 2),
        SEEN_SHUT: (n, 2),
        SEAM_EDGES: (n, seam.SECTORS, 4),
    }
    out = {}
    for name, expected in shapes.items():
        value = track.extras.get(name)
        if value is not None and np.asarray(value).shape == expected:
            out[name] = np.asarray(value, np.float32)
    occluder = stored_occluder(track)
    if occluder is not None:
        out[OCCLUDER] = occluder
    return out
