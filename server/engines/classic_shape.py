"""Shapes for the classic engine, in a pose-free (canonical) frame: the track's
reference shape, the identity's offsets without the selfie's expression, the lids'
openness per frame, and the reshaping mesh (68 landmarks, a forehead row and a ring
around the outline).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from server.vision import shape
from server.vision.outline import OUTLINE, face_points

if TYPE_CHECKING:
    from server.engines.classic_options import ClassicOptions

N_INNER = 68 + 8  # landmarks + forehead row
_LIP_PAIRS = {60: 48, 61: 50, 62: 51, 63: 52, 64: 54, 65: 56, 66: 57, 67: 58}
_CLOSING_PAIRS = ((61, 67), (62, 66), (63, 65), (37, 41), (38, 40), (43, 47), (44, 46))
_LOWER_LIP = np.array([55, 56, 57, 58, 59, 65, 66, 67])
_CHIN = np.arange(4, 13)
_CHIN_WEIGHT = np.array([0.25, 0.5, 0.75, 0.9, 1.0, 0.9, 0.75, 0.5, 0.25])
_LID_PAIRS = np.array([(37, 41), (38, 40), (43, 47), (44, 46)])  # upper, lower
_CLOSED_EYE = 0.4  # dlib's lid gap on a closed eye, share of the same eye's open gap


def reference_shape(
    landmarks: NDArray[np.float32], present: list[int]
) -> tuple[NDArray[np.float64], dict[int, NDArray[np.float64]]]:
    """The track's typical shape in a pose-free frame, and each frame's similarity into it."""
    canon = np.array([[160 - 40, 140], [160 + 40, 140]], np.float64)
    to_canon: dict[int, NDArray[np.float64]] = {}
    for i in present:
        to_canon[i] = shape.similarity(np.stack(shape.eye_centres(landmarks[i])), canon)
    ref = np.median([shape.apply_affine(to_canon[i], landmarks[i]) for i in present], axis=0)
    for _ in range(2):  # refine on the expression-stable points
        for i in present:
            to_canon[i] = shape.similarity(landmarks[i][shape.STABLE], ref[shape.STABLE])
        ref = np.median([shape.apply_affine(to_canon[i], landmarks[i]) for i in present], axis=0)
    return ref, to_canon


def neutral_expression(
    delta: NDArray[np.float64], selfie: NDArray[np.float64], ref: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Identity offsets without the selfie's mouth expression (canonical space, eyes
    level, so y is the face's vertical).

    The inner lips move with the outer lips next to them, so the lips' own outline
    (and thus the mouth interior) keeps the template's shape. How far the lips are
    apart is expression, which the template decides: the selfie's opening beyond the
    template's typical one is taken off the lower lip and the chin (the jaw drops with
    the lower lip); left in, a smiling selfie would keep its mouth open in every frame.
    """

    def opening(p: NDArray[np.float64]) -> float:
        return float((p[[67, 66, 65], 1] - p[[61, 62, 63], 1]).mean())

    d = delta.copy()
    for inner, outer in _LIP_PAIRS.items():
        d[inner] = delta[outer]
    extra = opening(selfie) - opening(ref)
    d[_LOWER_LIP, 1] -= extra
    d[_CHIN, 1] -= extra * _CHIN_WEIGHT
    return d


def open_features(ref: NDArray[np.float64]) -> NDArray[np.float64]:
    """The reference shape with mouth and eyes pulled open, to triangulate on.

    Triangulating a closed mouth yields triangles that span the lip line and fold over
    as soon as the mouth opens; on an open mouth Delaunay gives lip bands and an
    interior that merely flattens when the mouth closes. Same for the eyelids.
    """
    p = ref.copy()
    c = (p[48] + p[54]) / 2
    w = float(np.linalg.norm(p[54] - p[48]))
    p[[61, 62, 63], 1] = c[1] - 0.12 * w
    p[[65, 66, 67], 1] = c[1] + 0.12 * w
    p[49:54, 1] = np.minimum(p[49:54, 1], c[1] - 0.25 * w)
    p[55:60, 1] = np.maximum(p[55:60, 1], c[1] + 0.25 * w)
    for eye in (shape.EYE_L, shape.EYE_R):
        e = p[eye]
        ec = e.mean(0)
        ew = float(np.linalg.norm(e[3] - e[0]))
        p[eye[[1, 2]], 1] = ec[1] - 0.18 * ew
        p[eye[[4, 5]], 1] = ec[1] + 0.18 * ew
    return p


def uncross(pts: NDArray[np.float64], down: NDArray[np.float64]) -> NDArray[np.float64]:
    """Where a lower lip or lid point ends up above its upper partner, meet in the middle
    (a closed mouth or eye must not fold its triangles over)."""
    p = pts.copy()
    for upper, lower in _CLOSING_PAIRS:
        gap = float(np.dot(p[lower] - p[upper], down))
        if gap < 0:
            p[upper] += down * gap / 2
            p[lower] -= down * gap / 2
    return p


def track_eye_openness(
    ref: NDArray[np.float64],
    landmarks: NDArray[np.float32],
    to_canon: Mapping[int, NDArray[np.float64]],
    present: Sequence[int],
) -> NDArray[np.float64]:
    """(N, 2) how open each template eye is per frame (image-left, image-right): 1 as
    in the track's typical shape ``ref``, 0 shut, up to 1.3 (NaN where absent). dlib's
    points never meet on a closed eye (the gap stays at about ``_CLOSED_EYE`` of the
    open one), so openness is measured from that level."""
    up, low = _LID_PAIRS[:, 0], _LID_PAIRS[:, 1]
    typical = ref[low, 1] - ref[up, 1]
    out = np.full((len(landmarks), 2), np.nan)
    for i in present:
        canon = shape.apply_affine(to_canon[i], landmarks[i])
        gap = canon[low, 1] - canon[up, 1]
        for k, eye in enumerate((slice(0, 2), slice(2, 4))):
            ratio = gap[eye].mean() / max(float(typical[eye].mean()), 1e-6)
            out[i, k] = np.clip((ratio - _CLOSED_EYE) / (1 - _CLOSED_EYE), 0.0, 1.3)
    return out


def lid_gaps(
    delta: NDArray[np.float64],
    ref: NDArray[np.float64],
    landmarks: NDArray[np.float32],
    to_canon: Mapping[int, NDArray[np.float64]],
    openness: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Per frame and lid pair, the gap between the identity offsets of the lower and the
    upper lid (canonical y) that makes the target eye as open as the selfie's scaled by
    how open the template's eye is in that frame (``openness``: :func:`track_eye_openness`).
    Added unchanged, the selfie's lid offsets keep its eyes open while the template
    blinks or winks; at openness 0 the target lids meet and the selfie's eye closes.
    """
    up, low = _LID_PAIRS[:, 0], _LID_PAIRS[:, 1]
    typical = ref[low, 1] - ref[up, 1]
    selfie = typical + delta[low, 1] - delta[up, 1]
    out = np.tile(delta[low, 1] - delta[up, 1], (len(landmarks), 1))
    for i in map(int, np.flatnonzero(~np.isnan(openness[:, 0]))):
        canon = shape.apply_affine(to_canon[i], landmarks[i])
        gap = canon[low, 1] - canon[up, 1]
        for k, eye in enumerate((slice(0, 2), slice(2, 4))):
            out[i, eye] = openness[i, k] * np.maximum(selfie[eye], 0.0) - gap[eye]
    return out


def with_lid_gaps(delta: NDArray[np.float64], gaps: NDArray[np.float64]) -> NDArray[np.float64]:
    """``delta`` with each lid pair's vertical offsets moved apart (or together) about
    their middle to ``gaps`` (see :func:`lid_gaps`)."""
    d = delta.copy()
    up, low = _LID_PAIRS[:, 0], _LID_PAIRS[:, 1]
    mid = (d[up, 1] + d[low, 1]) / 2
    d[up, 1] = mid - gaps / 2
    d[low, 1] = mid + gaps / 2
    return d


def cap_outline(shift: NDArray[np.float64], limit: float) -> NDArray[np.float64]:
    """Limit how far jaw points move so the reshaping stays inside its ring."""
    s = shift.copy()
    n = np.linalg.norm(s[:17], axis=1, keepdims=True)
    s[:17] *= np.minimum(1.0, limit / np.maximum(n, 1e-6))
    return s


def mesh_points(
    inner: NDArray[np.float64], other: NDArray[np.float64], margin: float
) -> NDArray[np.float64]:
    """76 inner points (68 + forehead of ``inner``) and a ring around the outline that
    encloses both ``inner`` and ``other``."""
    a = face_points(inner.astype(np.float32)).astype(np.float64)
    b = face_points(other.astype(np.float32)).astype(np.float64)
    centre = a[shape.STABLE].mean(0)
    height = shape.face_height(inner.astype(np.float32))
    ra = a[OUTLINE] - centre
    rb = b[OUTLINE] - centre
    na = np.linalg.norm(ra, axis=1)
    radius = np.maximum(na, np.linalg.norm(rb, axis=1)) + margin * height
    ring = centre + ra / np.maximum(na, 1e-6)[:, None] * radius[:, None]
    return np.concatenate([a, ring], 0)


def frame_meshes(
    lm: NDArray[np.float32],
    delta: NDArray[np.float64],
    to_frame: NDArray[np.float64],
    o: ClassicOptions,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Target landmarks in one frame (the template's ``lm`` plus the identity's offsets
    ``delta`` in this frame's pose ``to_frame``), and the source and destination meshes
    of the reshaping."""
    t = lm.astype(np.float64)
    shift = cap_outline(delta @ to_frame.T, o.max_jaw_shift * shape.face_height(lm))
    down = to_frame @ np.array([0.0, 1.0])
    target = uncross(t + shift, down / max(float(np.linalg.norm(down)), 1e-9))
    src = mesh_points(t, target, o.ring_margin)
    dst = mesh_points(target, target, o.ring_margin)
    # The ring stays where it is, and so does the forehead row: the hairline is
    # where a moved background shows most, beyond the face's own outline.
    dst[68:] = src[68:]
    return target, src, dst
