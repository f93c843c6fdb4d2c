"""A face's iris moved to another place across its eye (where
:mod:`server.vision.gaze` read another face looking).

The eye is split into its iris (a disc of the read iris's width, completed where the
lids hide it) and its white filled in under it along rows; that picture, sampled
shifted inside the eye's opening, moves the iris and leaves white where it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from server.vision import masks, shape
from server.vision.boxes import clip_box, points_box
from server.vision.fill import smooth_fill
from server.vision.gaze import READABLE, Iris, read_iris

# An eye narrower than this (px, corner to corner, at the track's scale) keeps its
# iris: at 17 px (the astronaut on a 240 px clip) the uncovered white read as a flat
# grey patch and the moved iris as a smudge.
SMALLEST_EYE = 20.0
# The selfie's iris moved no nearer a corner than this: further, the move uncovers more
# of its eye's white than the fill can pass for, and its hidden edge (completed from
# the other side) shows.
FURTHEST = 0.22
# An eye's white is duller than the skin under the eye: chroma at most this share of
# it (measured 0.29-0.81 on the whites of colour selfies at full size, 0.86 on the
# astronaut's at a 41 px inter-ocular distance, 0.98-1.26 where lid skin or a
# painted-out rim was taken for one).
WHITE_CHROMA = 0.92
# An iris moved by less than this (texture px, |dx| + |dy|) is left where it is.
LEAST_SHIFT = 0.25
# The uncovered white is filled from the white's lighter pixels when there are at least
# this many per pixel of the eye's width (fewer left rows unfilled: a small eye's fill
# showed a dark smudge by the moved iris); from all its dull pixels otherwise.
LIGHTER_FILL = 0.5


class Eyeball:
    """One face's eye split for moving its iris: the texture with, about each eye, the
    sclera filled in under a disc of the iris (see module doc)."""

    def __init__(self, lab: NDArray[np.float32], points: NDArray[np.floating]) -> None:
        self.image = lab.copy()
        self.across: list[float] = []  # each eye's iris place (u), NaN: not movable
        self.axes: list[NDArray[np.float64]] = []  # each eye's corner-to-corner vector
        self.boxes: list[tuple[slice, slice]] = []  # where the picture was changed (y, x)
        light = lab[:, :, 0] * 2.55
        for eye in (shape.EYE_L, shape.EYE_R):
            pts = np.asarray(points[eye], np.float64)
            iris = read_iris(light, pts)
            self.axes.append(pts[3] - pts[0])
            wide = float(np.hypot(*self.axes[-1])) >= SMALLEST_EYE
            done = wide and iris.contrast >= READABLE and self._split(pts, iris)
            self.across.append(iris.across if done else float("nan"))
        if np.isnan(self.across).any():  # one eye alone moved would look the other way
            self.across = [float("nan")] * 2

    def _split(self, eye: NDArray[np.float64], read: Iris) -> bool:
        """Fill this eye's sclera under a disc of its iris ``read`` in ``self.image``;
        False where too little sclera shows to fill from."""
        width = float(np.hypot(*(eye[3] - eye[0])))
        h, w = self.image.shape[:2]
        x0, y0 = np.floor(eye.min(0) - 0.6 * width).astype(int).clip(0)
        x1, y1 = np.ceil(eye.max(0) + 0.6 * width).astype(int)
        x1, y1 = min(int(x1), w), min(int(y1), h)
        if x1 - x0 < 4 or y1 - y0 < 4:
            return False
        self.boxes.append((slice(y0, y1), slice(x0, x1)))
        return _split_eye(self.image[y0:y1, x0:x1], eye - (x0, y0), read, width)

    def shifts(self, gaze: NDArray[np.float64]) -> NDArray[np.float64]:
        """(N, 2, 2) per frame and eye, the texture offset (x, y) to sample this
        eyeball at for its iris to sit where ``gaze`` (track_gaze's u) puts it; 0 for
        an eye whose iris cannot move."""
        out = np.zeros((len(gaze), 2, 2))
        for k in range(2):
            if np.isnan(self.across[k]):
                continue
            wanted = np.clip(gaze[:, k], FURTHEST, 1 - FURTHEST)
            out[:, k] = (self.across[k] - wanted)[:, None] * self.axes[k]
        return out


def look(
    sampled: NDArray[np.float32],
    source: NDArray[np.float32],
    shift: NDArray[np.float64],
    tx: NDArray[np.float32],
    ty: NDArray[np.float32],
    eyes: Sequence[NDArray[np.float64]],
) -> None:
    """``sampled`` (a texture sampled at ``tx``, ``ty``) with each eye's opening (its
    six points ``eyes``, in ``sampled``'s pixels) sampled instead from ``source`` (an
    :class:`Eyeball`'s picture of that texture) shifted by ``shift`` (2, 2), in place."""
    h, w = sampled.shape[:2]
    for eye, (dx, dy) in zip(eyes, shift, strict=True):
        if abs(dx) + abs(dy) < LEAST_SHIFT:
            continue
        box = clip_box(points_box(eye, 1.0), w, h)
        if box.width < 2 or box.height < 2:
            continue
        mask = masks.polygon_mask(box, eye, 0.7)
        at = (slice(box.top, box.bottom), slice(box.left, box.right))
        mx, my = tx[at] + np.float32(dx), ty[at] + np.float32(dy)
        moved = cv2.remap(source, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        crop = sampled[at]
        crop += (mask[..., None] if crop.ndim == 3 else mask) * (moved - crop)


def _split_eye(
    crop: NDArray[np.float32], eye: NDArray[np.float64], read: Iris, width: float
) -> bool:
    """``crop`` (Lab, about one eye with its points ``eye``) with the sclera filled in
    under the iris ``read``'s disc, completed where the lids hide it (in place); False
    where too little sclera shows to fill from."""
    h, w = crop.shape[:2]
    opening = np.zeros((h, w), np.uint8)
    cv2.fillPoly(opening, [np.round(eye * 4).astype(np.int32)], 1, cv2.LINE_8, shift=2)
    centre = eye[0] + read.across * (eye[3] - eye[0])
    centre[1] = (eye[[1, 2], 1].mean() + eye[[4, 5], 1].mean()) / 2
    yy, xx = np.mgrid[:h, :w]
    dist = np.hypot(xx - centre[0], yy - centre[1])
    radius = read.radius * width
    light = crop[:, :, 0]
    inside = opening > 0
    disc, rest = inside & (dist <= radius), inside & (dist > 1.15 * radius)
    if disc.sum() < 4 or rest.sum() < 4:
        return False
    # the sclera: what of the rest of the opening is nearer its lightest than the iris
    lightest = float(np.percentile(light[rest], 90))
    sclera = rest & (light > (float(np.median(light[disc])) + 2 * lightest) / 3)
    if sclera.sum() < 4:
        return False
    chroma = np.hypot(crop[:, :, 1], crop[:, :, 2])
    below = ~inside & (yy > centre[1]) & (dist < 0.6 * width)
    if not _looks_white(light, chroma, sclera, below):
        return False
    # filled from its duller half (a red lid rim or a glint of iris is not the white),
    # and of that from the lighter half where it has pixels enough to fill rows from:
    # the lids' shadow and the corners' shade would fill the place the iris leaves, lit
    # most, with a flat grey
    dull = sclera & (chroma <= np.median(chroma[sclera]))
    lighter = dull & (light >= np.median(light[dull]))
    fill = _row_fill(crop, lighter if lighter.sum() >= LIGHTER_FILL * width else dull, width)
    iris = _completed_iris(crop, inside, disc, centre, dist <= radius)
    weight = np.clip(radius + 0.5 - dist, 0.0, 1.0)[..., None]
    crop[...] = fill + weight * (iris - fill)
    return True


def _row_fill(
    crop: NDArray[np.float32], known: NDArray[np.bool_], width: float
) -> NDArray[np.float32]:
    """``crop`` filled from its ``known`` pixels mostly along rows (a normalised
    convolution far wider than tall): the white keeps its shading from the lids down
    across the gap the iris leaves; where a row has none, the smooth fill round it."""
    weight = known.astype(np.float32)
    sx, sy = 0.5 * width, 0.05 * width
    num = cv2.GaussianBlur(crop * weight[..., None], (0, 0), sx, sigmaY=sy)
    den = cv2.GaussianBlur(weight, (0, 0), sx, sigmaY=sy)[..., None]
    rough = smooth_fill(crop, weight, (0.5 * width, 0.25 * width))
    enough = np.clip(den / 0.05, 0.0, 1.0)
    return np.asarray(rough + enough * (num / np.maximum(den, 1e-6) - rough), np.float32)


def _looks_white(
    light: NDArray[np.float32],
    chroma: NDArray[np.float32],
    sclera: NDArray[np.bool_],
    skin: NDArray[np.bool_],
) -> bool:
    """Whether the pixels taken for the ``sclera`` are an eye's white rather than lid
    skin (a narrow or painted eye): duller than the ``skin`` below the eye (Lab
    ``chroma`` under :data:`WHITE_CHROMA` of it), or on a colourless face no darker
    (Lab ``light``) than it."""
    if not skin.any():
        return False
    white, lid = float(np.median(chroma[sclera])), float(np.median(chroma[skin]))
    if lid < 2.0:
        return float(np.median(light[sclera])) >= float(np.median(light[skin])) - 5
    return white <= WHITE_CHROMA * lid


def _completed_iris(
    crop: NDArray[np.float32],
    inside: NDArray[np.bool_],
    seen: NDArray[np.bool_],
    centre: NDArray[np.float64],
    disc: NDArray[np.bool_],
) -> NDArray[np.float32]:
    """``crop`` with the iris disc's pixels the lids hide (in ``disc``, not ``inside``
    the opening) taken from their mirror images across the iris's centre, left-right
    first, then up-down, then both; the iris's median colour where none is seen."""
    out = crop.copy()
    h, w = inside.shape
    ys, xs = np.nonzero(disc & ~inside)
    mx = np.clip(np.round(2 * centre[0] - xs).astype(int), 0, w - 1)
    my = np.clip(np.round(2 * centre[1] - ys).astype(int), 0, h - 1)
    out[ys, xs] = np.median(crop[seen], axis=0)
    for sy, sx in ((my, mx), (my, xs), (ys, mx)):  # the first choice written last
        ok = seen[sy, sx]
        out[ys[ok], xs[ok]] = crop[sy[ok], sx[ok]]
    return out
