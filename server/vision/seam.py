"""Seam matching: the face layer's colour along its outline pulled to the template
skin's there, so the edge of a pasted face does not show as a line.

A feathered blend hides a seam only where the two sides already agree. Where the
template's skin is lit differently at the edge (a highlight on a temple, a shadow under
the jaw) a pale or dark wedge remains beside the new face. Here both sides' colours in
a thin band just inside the outline, where the layer blends in, are averaged in sectors
round the face; their difference is spread inward and fades over a share of the
inter-ocular distance (the boundary-offset idea behind Poisson and mean-value cloning,
kept to low frequencies, so it is computed on a coarse grid). The template's side is
measured once per track and averaged over neighbouring frames: measured afresh in every
frame, it moves with each strand of hair at the edge and flickers."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Box, Frame
from server.vision import masks, shape
from server.vision.boxes import clip_box, points_box
from server.vision.outline import OUTLINE, face_points

SECTORS = 16  # round the face
BAND = (0.0, 0.1)  # compared this deep inside the outline, inter-ocular distances
TOLERANCE = 2.0  # skin: within this many of the skin's standard deviations (Lab)
REACH = 0.25  # the correction's fade inward, inter-ocular distances
LIMIT = 30.0  # at most this many grey levels per channel (more: a misread edge)
_GRID_IOD = 24.0  # the grid's scale: the eyes at most this many cells apart
_LEAST = 0.03  # a sector with this share of an even band's weight is half trusted
# Trust round a sector (its neighbours' included): below _NONE_NEAR nothing is matched
# anywhere; from _FULL_NEAR a sector's correction is applied in full.
_NONE_NEAR, _FULL_NEAR = 0.05, 0.5
_MIN_STD = np.array([6.0, 3.0, 3.0], np.float32)  # Lab: a very even skin's spread
_STEPS = np.abs(np.subtract.outer(np.arange(SECTORS), np.arange(SECTORS)))
_ROUND = np.minimum(_STEPS, SECTORS - _STEPS)  # sectors apart, round the circle
_NEIGHBOURS = np.exp(-(_ROUND**2) / 2.0)
_NEIGHBOURS /= _NEIGHBOURS.sum(axis=1, keepdims=True)


class _Ring:
    """The outline's band, each pixel's sector position and its depth inside, on a grid
    over ``box`` coarse enough for colours this smooth (the eyes ``_GRID_IOD`` px
    apart at most)."""

    def __init__(
        self, box: Box, outline: NDArray[np.float64], features: NDArray[np.float64], iod: float
    ):
        k = min(1.0, _GRID_IOD / max(iod, 1e-6))
        self.size = (max(4, round(box.width * k)), max(4, round(box.height * k)))  # (w, h)
        self.outline = (np.asarray(outline, np.float64) - (box.left, box.top)) * k
        self.iod = iod * k
        inside = np.zeros((self.size[1], self.size[0]), np.uint8)
        cv2.fillPoly(inside, [np.round(self.outline * 4).astype(np.int32)], 1, cv2.LINE_8, shift=2)
        self.depth = np.asarray(cv2.distanceTransform(inside, cv2.DIST_L2, 3), np.float32)
        band = (self.depth > BAND[0] * self.iod) & (self.depth <= BAND[1] * self.iod)
        hull = np.zeros(band.shape, np.uint8)
        pts = np.round((np.asarray(features) - (box.left, box.top)) * k).astype(np.int32)
        cv2.fillConvexPoly(hull, cv2.convexHull(pts), 1)
        band &= ~masks.grown(hull, max(1, int(0.15 * self.iod)))
        self.band = band.astype(np.float32)
        cx, cy = self.outline.mean(axis=0)
        yy, xx = np.mgrid[0 : self.size[1], 0 : self.size[0]]
        turn = (np.arctan2(yy - cy, xx - cx) + np.pi) / (2 * np.pi)
        self.position = np.asarray(turn * SECTORS, np.float32) % SECTORS
        self.box = box

    def on_grid(self, image: NDArray[np.generic]) -> NDArray[np.float32]:
        """``image`` (over the box) averaged down to the grid."""
        out = np.asarray(image, np.float32)
        if out.shape[1::-1] != self.size:
            out = np.asarray(cv2.resize(out, self.size, interpolation=cv2.INTER_AREA), np.float32)
        return out

    def over_box(self, grid: NDArray[np.float32]) -> NDArray[np.float32]:
        """A smooth grid image back over the whole box."""
        size = (self.box.width, self.box.height)
        if grid.shape[1::-1] == size:
            return grid
        return np.asarray(cv2.resize(grid, size, interpolation=cv2.INTER_LINEAR), np.float32)

    def sector_means(
        self, bgr: NDArray[np.float32], weight: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        """(SECTORS, 4): each sector's weighted mean colour (BGR, on the grid) and its
        weight, as a share of the whole band's (so that weights measured on grids of
        different scales compare)."""
        index = np.floor(self.position).astype(np.int64).ravel() % SECTORS
        w = weight.ravel().astype(np.float64)
        total = np.bincount(index, w, SECTORS)
        out = np.zeros((SECTORS, 4), np.float32)
        out[:, 3] = total / max(float(self.band.sum()), 1e-9)
        for c in range(3):
            sums = np.bincount(index, w * bgr[:, :, c].ravel(), SECTORS)
            out[:, c] = sums / np.maximum(total, 1e-9)
        return out

    def fade(self) -> NDArray[np.float32]:
        """1 on the outline, falling off inward over ``REACH`` inter-ocular distances."""
        return np.asarray(np.exp(-self.depth / max(1.0, REACH * self.iod)), np.float32)


def skin_likeness(bgr: NDArray[np.float32], stats: NDArray[np.float32]) -> NDArray[np.float32]:
    """How much each pixel looks like the skin of Lab statistics ``stats`` (0..1)."""
    lab = cv2.cvtColor(np.asarray(bgr, np.float32) * (1.0 / 255.0), cv2.COLOR_BGR2Lab)
    std = np.maximum(stats[1], _MIN_STD)
    z = (((lab - stats[0]) / std) ** 2).sum(axis=-1)
    return np.asarray(np.exp(-z / (2 * TOLERANCE**2)), np.float32)


def template_edge(
    frame: Frame,
    outline: NDArray[np.float64],
    features: NDArray[np.float64],
    stats: NDArray[np.float32],
    iod: float,
) -> NDArray[np.float32]:
    """(SECTORS, 4): the template skin's mean colour and weight per sector along the
    face's ``outline`` in ``frame`` (``features``: points whose hull is left out)."""
    h, w = frame.shape[:2]
    box = clip_box(points_box(outline, 2), w, h)
    if min(box.width, box.height) < 4:
        return np.zeros((SECTORS, 4), np.float32)
    ring = _Ring(box, outline, features, iod)
    crop = ring.on_grid(frame[box.top : box.bottom, box.left : box.right])
    return ring.sector_means(crop, ring.band * skin_likeness(crop, stats))


def smoothed(edges: NDArray[np.float32], window: int) -> NDArray[np.float32]:
    """Per-frame (N, SECTORS, 4) edges averaged over ``window`` frames, each sector's
    colours weighted by their weights."""
    n, half = len(edges), window // 2
    out = np.zeros_like(edges)
    for i in range(n):
        part = edges[max(0, i - half) : i + half + 1]
        weight = part[:, :, 3:]
        total = weight.sum(axis=0)
        out[i, :, :3] = (part[:, :, :3] * weight).sum(axis=0) / np.maximum(total, 1e-9)
        out[i, :, 3] = total[:, 0] / len(part)
    return out


def correction(
    layer: NDArray[np.float32],
    alpha: NDArray[np.float32],
    edge: NDArray[np.float32],
    box: Box,
    outline: NDArray[np.float64],
    features: NDArray[np.float64],
    iod: float,
) -> NDArray[np.float32] | None:
    """What to add to ``layer`` (BGR over ``box``, blended with weights ``alpha``) so
    that its colour along ``outline`` meets the template's ``edge`` (see
    :func:`template_edge`); None: nothing to match."""
    ring = _Ring(box, outline, features, iod)
    # the layer's colour where it shows: alpha-weighted within each grid cell too (the
    # layer is black where the texture ends)
    cover = ring.on_grid(alpha)
    shown = ring.on_grid(layer * alpha[..., None]) / np.maximum(cover, 1e-6)[..., None]
    ours = ring.sector_means(np.asarray(shown, np.float32), ring.band * cover)
    least = _LEAST / SECTORS
    # each sector's difference, trusted by how much skin both sides show there, spread
    # to its neighbours round the circle (a sector without skin takes theirs); every
    # step is continuous in the weights, so a sector losing its skin fades, not flips
    trust = np.minimum(ours[:, 3], edge[:, 3])
    trust = trust / (trust + least)
    diff = np.clip(edge[:, :3] - ours[:, :3], -LIMIT, LIMIT)
    near = _NEIGHBOURS @ trust
    if near.max() < _NONE_NEAR:
        return None
    full = (_NEIGHBOURS @ (trust[:, None] * diff)) / np.maximum(near, 1e-6)[:, None]
    full *= np.minimum(1.0, near / _FULL_NEAR)[:, None]
    # linear between sector centres, round the circle
    pos = ring.position - 0.5
    lo = np.floor(pos).astype(np.int64) % SECTORS
    frac = (pos - np.floor(pos))[..., None]
    field = full[lo] * (1.0 - frac) + full[(lo + 1) % SECTORS] * frac
    return ring.over_box(np.asarray(field * ring.fade()[..., None], np.float32))


def track_edges(
    frames: Sequence[Frame],
    landmarks: NDArray[np.float32],
    colour: NDArray[np.float32],
    window: int,
) -> NDArray[np.float32]:
    """(N, SECTORS, 4): :func:`template_edge` of each frame of a face track along its
    outline (:func:`server.vision.outline.face_points`), zero weight where the face or
    its skin colour is missing, averaged over ``window`` frames; ``colour``: the
    track's (N, 2, 3) skin statistics, as smoothed for the colour transfer.

    It depends on the template alone: the analysis stores it (see
    :mod:`server.gif_templates.features`); a change here needs a new
    ``ANALYSIS_VERSION``."""
    edges = np.zeros((len(landmarks), SECTORS, 4), np.float32)
    for i, lm32 in enumerate(landmarks):
        if np.isnan(lm32[0, 0]) or np.isnan(colour[i, 0, 0]):
            continue
        outline = face_points(lm32)[OUTLINE].astype(np.float64)
        lm = lm32.astype(np.float64)
        edges[i] = template_edge(frames[i], outline, lm[17:68], colour[i], shape.interocular(lm))
    return smoothed(edges, window)
