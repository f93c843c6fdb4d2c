"""The portrait's rest pose for a clip's motion: its mouth closed.

A clip's expression is replayed as displacements from the clip's first frame, so the
portrait's own expression would stay under it: a selfie with its mouth open (a laugh,
teeth showing) would keep it open in every frame, and a clip that closes its mouth has
no lips to close over the teeth. The template drives the expression, so the animator
starts from the portrait's face with the lips brought together: the lower lip and the
jaw rise (the jaw closes), the upper lip comes down a little, until the inner lips are
``CLOSED_GAP`` apart, as dlib reads a closed mouth. The picture's open mouth is warped
shut with them; what is left of its inside is painted over with lip colour
(:func:`~.paint.paint_closed_lips`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from server.gif_templates.motion import as_complex, as_points, face_frame

Points = NDArray[np.float64]

CLOSED_GAP = 0.03  # IOD: inner-lip gap of closed lips (dlib reads 0.0-0.02 on them)
UPPER_SHARE = 0.2  # of the closing done by the upper lip; the rest by the jaw
# Inner-lip pairs (upper, lower) and the outer lower-lip point below each.
_PAIRS = ((61, 67, 58), (62, 66, 57), (63, 65, 56))
_UPPER_OUTER = (50, 51, 52)
_LIP_SIDES = ((59, 0), (55, 2))  # outer lower-lip points beside the pairs, by pair
# The mouth's corners (outer, inner) follow the lower lip's rise by CORNER_FOLLOW, kept
# between the upper and lower lip's outer points beside them.
_CORNER_ROOM = ((48, 60, 49, 59), (54, 64, 53, 55))
CORNER_FOLLOW = 0.3
# How much of the lower lip's rise the jaw line follows (the jaw closes).
_JAW = {8: 0.95, 7: 0.9, 9: 0.9, 6: 0.7, 10: 0.7, 5: 0.45, 11: 0.45, 4: 0.2, 12: 0.2}
JAW_TRIES = (1.0, 0.6, 0.3, 0.0)  # shares of the jaw's rise tried (see rest_pose)
# Shares of the closing tried when every jaw folds: lips nearly closed (the rest of the
# gap painted with lip colour) are better than a mouth left open in every frame.
CLOSE_TRIES = (1.0, 0.8, 0.6)


def inner_gaps(face: Points) -> NDArray[np.float64]:
    """The three inner-lip gaps (upper to lower, down the face) in IOD."""
    origin, axis = face_frame(face)
    z = (as_complex(face) - origin) / axis
    return np.array([(z[lo] - z[up]).imag for up, lo, _ in _PAIRS])


def rest_pose(face: Points, folds: Callable[[Points], bool]) -> Points:
    """:func:`closed_mouth` with as much of the jaw's rise, and of the closing, as does
    not fold the warp's mesh (``folds``: whether the picture warped to these landmarks
    would fold); the picture's own landmarks when none is without folds."""
    for share in CLOSE_TRIES:
        for jaw in JAW_TRIES:
            closed = closed_mouth(face, jaw, share)
            if not folds(closed):
                return closed
    return np.array(face, np.float64, copy=True)


def closed_mouth(face: Points, jaw: float = 1.0, share: float = 1.0) -> Points:
    """``face`` (68, 2 pixels) with its inner lips ``CLOSED_GAP`` apart where they are
    further apart (a closed mouth is returned unchanged), or only ``share`` of the way
    there; the jaw line rises with the lower lip by ``jaw`` (0..1) of its usual share."""
    extra = share * np.clip(inner_gaps(face) - CLOSED_GAP, 0.0, None)
    pts = np.array(face, np.float64, copy=True)
    if not extra.any():
        return pts
    origin, axis = face_frame(face)
    z = (as_complex(face) - origin) / axis
    rise = extra * (1.0 - UPPER_SHARE)
    for (up, lo, outer), e, r in zip(_PAIRS, extra, rise, strict=True):
        z[up] += 1j * e * UPPER_SHARE
        z[[lo, outer]] -= 1j * r
    z[list(_UPPER_OUTER)] += 1j * 0.5 * UPPER_SHARE * extra
    for i, pair in _LIP_SIDES:
        z[i] -= 1j * rise[pair]
    for corner, inner, above, below in _CORNER_ROOM:
        # A corner rises with the lower lip, but stays in the middle half between the
        # upper and the (risen) lower lip's outer points beside it: on a wide-open mouth
        # it rose past one of them, the mesh folded and the mouth was left open.
        top, bottom = float(z[above].imag), float(z[below].imag)
        low, high = top + 0.25 * (bottom - top), bottom - 0.25 * (bottom - top)
        to = float(z[corner].imag) - CORNER_FOLLOW * float(rise.mean())
        to = float(np.clip(to, low, high)) if high > low else 0.5 * (top + bottom)
        z[[corner, inner]] += 1j * (to - float(z[corner].imag))
    for i, k in _JAW.items():
        z[i] -= 1j * jaw * k * float(rise.mean())
    return np.asarray(as_points(origin + axis * z), np.float64)
