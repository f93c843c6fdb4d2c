"""What the classic engine takes of a template face track once per render, stored with
the analysis or measured now: the skin's colour statistics in each frame, its lightness
spread without its lighting (for the colour transfer's gain), and the skin's colour
along each frame's face outline (where the identity's face will meet it), the irises'
places and the eyes the picture shows shut."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from server.gif_templates.features import IRIS, LIGHT_SPREAD, SEAM_EDGES, SEAM_WINDOW, SEEN_SHUT
from server.types import Frame
from server.vision import color, eye_state, gaze, masks, seam, shading

if TYPE_CHECKING:
    from server.engines.classic_options import ClassicOptions


def colour_stats(
    feats: Mapping[str, NDArray[np.floating]],
    frames: Sequence[Frame],
    landmarks: NDArray[np.float32],
    present: list[int],
) -> NDArray[np.floating]:
    """The template's per-frame face colour statistics: stored, or measured now."""
    stats = feats.get("colour_stats")
    if stats is None or stats.shape != (len(landmarks), 2, 3):
        stats = np.full((len(landmarks), 2, 3), np.nan, np.float32)
        for i in present:
            stats[i] = masks.face_colour_stats(frames[i], landmarks[i])
    return stats


def iris_reads(
    feats: Mapping[str, NDArray[np.floating]],
    frames: Sequence[Frame],
    landmarks: NDArray[np.float32],
    present: list[int],
) -> NDArray[np.floating]:
    """Each template eye's iris place per frame (:func:`server.vision.gaze.frame_reads`):
    stored, or read now."""
    stored = feats.get(IRIS)
    if stored is not None:
        return stored
    return gaze.frame_reads(frames, landmarks, present)


def seen_shut(
    feats: Mapping[str, NDArray[np.floating]],
    frames: Sequence[Frame],
    landmarks: NDArray[np.float32],
    present: list[int],
) -> NDArray[np.bool_]:
    """(N, 2) the template eyes the picture shows shut
    (:func:`server.vision.eye_state.track_seen_shut`): stored, or read now."""
    stored = feats.get(SEEN_SHUT)
    if stored is not None:
        return np.asarray(stored) > 0.5
    return eye_state.track_seen_shut(frames, landmarks, present)


def seam_edges(
    feats: Mapping[str, NDArray[np.floating]],
    frames: Sequence[Frame],
    landmarks: NDArray[np.float32],
    colour: NDArray[np.float32],
    o: ClassicOptions,
) -> NDArray[np.float32] | None:
    """The template skin's colour along the face outline of each frame (see
    :func:`server.vision.seam.track_edges`): stored with the analysis, or measured now
    (an older analysis, or another colour window); None when seams are not matched.
    The outline is the template's own (jaw and forehead row): the reshaping moves its
    pixels there onto the target's."""
    if not o.match_seams:
        return None
    stored = feats.get(SEAM_EDGES)
    if stored is not None and o.colour_window == SEAM_WINDOW:
        return np.asarray(stored, np.float32)
    return seam.track_edges(frames, landmarks, colour, o.colour_window)


def light_gains(
    feats: Mapping[str, NDArray[np.floating]],
    frames: Sequence[Frame],
    landmarks: NDArray[np.float32],
    present: list[int],
    face_spread: float,
    o: ClassicOptions,
) -> NDArray[np.float32] | None:
    """(N,) the colour transfer's lightness gain per frame, NaN where the face is absent;
    None with the shading layer off.

    The gain scales the selfie's lightness about its mean so that its features and
    detail stand out as much as the template's. The shading layer then replaces the
    selfie's light with the template's: measured with their light, a template lit from
    one side would count its light twice (its skin spreads twice as far as evenly lit,
    and every selfie's contrast would be raised to match). Both spreads are measured
    without their light (:func:`server.vision.shading.unlit_spread`), the template's
    averaged over the colour window; bounded by the options' light gains."""
    if o.shading <= 0:
        return None
    n = len(landmarks)
    spread = feats.get(LIGHT_SPREAD)
    if spread is None or spread.shape != (n,) or o.shading_scale != shading.SCALE:
        spread = np.full(n, np.nan, np.float32)
        for i in present:
            spread[i] = shading.face_unlit_spread(frames[i], landmarks[i], o.shading_scale)
    smooth = color.smooth_stats(np.asarray(spread, np.float32).reshape(n, 1, 1), o.colour_window)
    gain = smooth[:, 0, 0] / max(face_spread, 1e-3)
    low, high = max(o.light_gain_min, 0.4), min(o.light_gain_max, 1.5)
    return np.asarray(np.clip(gain, low, high), np.float32)  # NaN stays NaN


def track_gain(
    colour: NDArray[np.float32],
    face_stats: NDArray[np.float32],
    present: list[int],
    light: NDArray[np.float32] | None,
    o: ClassicOptions,
) -> float:
    """The lightness gain the colour transfer applies to the identity's face over the
    track: the median of ``light`` (:func:`light_gains`), or with the shading layer off
    the template skin's spread (``colour``, smoothed) over the face's (``face_stats``)."""
    if light is not None and not np.isnan(light[present]).all():
        return float(np.nanmedian(light[present]))
    gain = float(np.nanmedian(colour[present, 1, 0]) / max(float(face_stats[1, 0]), 1e-3))
    low, high = (o.light_gain_min, o.light_gain_max) if o.shading > 0 else (0.4, 1.5)
    return float(np.clip(gain, max(low, 0.4), min(high, 1.5)))
