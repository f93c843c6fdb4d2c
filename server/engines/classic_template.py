"""What the classic engine measures of a template face track once per render: the
skin's colour statistics in each frame, and the skin's colour along each frame's face
outline (where the identity's face will meet it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from server.gif_templates.features import SEAM_EDGES, SEAM_WINDOW
from server.types import Frame
from server.vision import masks, seam

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
