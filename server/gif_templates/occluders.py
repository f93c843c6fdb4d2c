"""Per-frame occluder masks of a template's faces: what stays in front of a swapped
face: spectacle frames (:mod:`server.vision.glasses`) and hair crossing the face
(:mod:`server.vision.hair`).

Stored as track extras beside the face features:

- ``glasses`` (N,) float32: the evidence of glasses per frame (0..1), NaN where absent;
- ``hair`` (N,) float32: the share of the canonical crop covered by hair, NaN where
  absent;
- ``occluder`` (N, CANON_H, CANON_W) uint8: the occluder mask (0..255) in each frame's
  canonical face crop (see :func:`server.vision.glasses.to_canonical`), for tracks
  that wear glasses (most of the track's frames say so) or have hair over the face.

A track with ``glasses`` and no ``occluder`` has nothing in front of it. An analysis
stored before these existed has neither: its glasses are found at render time
(:func:`occluder_for_render`; the evidence costs a few ms a frame, masks only follow
for a face with glasses); hair needs the analysis made again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from server.gif_templates.tracks import FaceTrack
from server.types import Frame
from server.vision import glasses, hair

GLASSES = "glasses"
HAIR = "hair"
OCCLUDER = "occluder"
_HAIR_SHARE = 0.002  # a track has hair over its face when this share of a crop is hair ...
_HAIR_FRAMES = 0.2  # ... in at least this share of its frames


def track_occluders(
    frames: Sequence[Frame], landmarks: NDArray[np.float32], present: NDArray[np.bool_]
) -> dict[str, NDArray[np.generic]]:
    """The occluder extras of one track (see the module's docstring)."""
    n = len(frames)
    evidence = np.full(n, np.nan, np.float32)
    share = np.full(n, np.nan, np.float32)
    masks = np.zeros((n, glasses.CANON_H, glasses.CANON_W), np.float32)
    crops = {}
    for i in map(int, np.flatnonzero(present)):
        crop, pts = glasses.canonical_crop(frames[i], landmarks[i])
        crops[i] = (crop, pts)
        evidence[i] = glasses.evidence(crop, pts)
        masks[i] = hair.hair_mask(crop, pts)
        share[i] = masks[i].mean()
    out: dict[str, NDArray[np.generic]] = {GLASSES: evidence, HAIR: share}
    if not crops:
        return out
    wears_glasses = glasses.track_wears(evidence)
    has_hair = float(np.mean(share[present] >= _HAIR_SHARE)) >= _HAIR_FRAMES
    if not has_hair:
        masks[:] = 0.0
    if wears_glasses:
        for i, (crop, pts) in crops.items():
            masks[i] = np.maximum(masks[i], glasses.frames_mask(crop, pts))
    if wears_glasses or has_hair:
        out[OCCLUDER] = np.round(_steady(masks, present) * 255).astype(np.uint8)
    return out


def _steady(masks: NDArray[np.float32], present: NDArray[np.bool_]) -> NDArray[np.float32]:
    """Each frame's mask joined with where its neighbours (``_WINDOW`` frames either
    side) mostly agree: the crop follows the face and frames sit still on it, so a
    rim missed in a blurred or low-contrast frame is filled in and does not blink."""
    out = masks.copy()
    for i in map(int, np.flatnonzero(present)):
        lo, hi = max(0, i - _WINDOW), min(len(masks), i + _WINDOW + 1)
        near = masks[lo:hi][present[lo:hi]]
        agreed = np.clip((near.mean(0) - 0.25) / 0.25, 0.0, 1.0)
        out[i] = np.maximum(masks[i], agreed)
    return out


_WINDOW = 4


def attach_occluders(tracks: Sequence[FaceTrack], frames: Sequence[Frame]) -> None:
    """Store the occluder extras of every track."""
    for track in tracks:
        track.extras.update(track_occluders(frames, track.landmarks, track.present))


def stored_occluder(track: FaceTrack) -> NDArray[np.float32] | None:
    """The track's occluder masks as 0..1 floats, or None (no glasses, or not stored)."""
    value = track.extras.get(OCCLUDER)
    expected = (len(track.landmarks), glasses.CANON_H, glasses.CANON_W)
    if value is None or np.asarray(value).shape != expected:
        return None
    return np.asarray(value, np.float32) * np.float32(1 / 255)


def occluder_for_render(
    features: Mapping[str, NDArray[np.floating]],
    frames: Sequence[Frame],
    landmarks: NDArray[np.float32],
) -> NDArray[np.float32] | None:
    """A track's occluder masks (0..1) for a render: the stored ones, none when the
    analysis found no glasses, computed now when it predates occluders."""
    if OCCLUDER in features:
        return np.asarray(features[OCCLUDER], np.float32)
    if GLASSES in features:
        return None
    present = ~np.isnan(landmarks[:, 0, 0])
    computed = track_occluders(frames, landmarks, present).get(OCCLUDER)
    return None if computed is None else computed.astype(np.float32) * np.float32(1 / 255)
