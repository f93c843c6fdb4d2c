"""The animator's warp of a picture over a moving triangle mesh: only the box the
moving triangles cover is resampled, from source coordinates computed exactly on a
lattice and interpolated in between."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.gif_templates.folds import signed_areas
from server.types import Frame
from server.vision.warp import triangle_affines

Points = NDArray[np.float64]
# The warp's source coordinates are computed exactly every GRID pixels and interpolated
# in between: the map is continuous and piecewise affine, so the error stays far below
# a pixel, and a frame costs a fraction of a per-pixel map.
GRID = 4
STILL = 1e-3  # px: a mesh point moved less than this is still
# px: how far outside its triangle's source a lattice point may read (edge pixels the
# rasteriser gave to a neighbour, whose map agrees there); beyond, it is pulled in.
REACH = 8.0


def warp_moving(
    image: Frame, src: Points, dst: Points, tris: NDArray[np.int32], grid: int = GRID
) -> Frame:
    """``image`` warped so that mesh ``src`` lands on ``dst``. Only the box covered by
    triangles that move is resampled (the rest is copied); inside it the source
    coordinates are exact on a ``grid`` lattice and bilinear between lattice points
    (``grid`` 1: exact everywhere)."""
    frame = image.copy()
    moving = (np.abs(dst - src).max(axis=1) > STILL)[tris].any(axis=1)
    if not moving.any():
        return frame
    h, w = image.shape[:2]
    corners = dst[tris[moving]].reshape(-1, 2)
    x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int) + 2, (w, h))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return frame
    mx, my = _grid_maps(src, dst, tris, moving, (int(x0), int(y0), int(x1), int(y1)), grid)
    fixed, frac = cv2.convertMaps(mx, my, cv2.CV_16SC2)
    warped = cv2.remap(image, fixed, frac, cv2.INTER_LINEAR, None, cv2.BORDER_REPLICATE)
    frame[y0:y1, x0:x1] = warped[grid : grid + y1 - y0, grid : grid + x1 - x0]
    return frame


def _grid_maps(
    src: Points,
    dst: Points,
    tris: NDArray[np.int32],
    moving: NDArray[np.bool_],
    box: tuple[int, int, int, int],
    grid: int,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Source x and y for every pixel of ``box`` (x0, y0, x1, y1) grown by ``grid`` on
    every side (so no pixel of the box falls in the resize's clamped edge): pixels
    outside the moving triangles map to themselves."""
    x0, y0 = box[0] - grid, box[1] - grid
    bw, bh = box[2] - box[0] + 2 * grid, box[3] - box[1] + 2 * grid
    labels = _labels(dst - (x0, y0), tris, moving, (bh, bw))
    # Lattice point (i, j) sits at pixel (grid i + (grid - 1) / 2, ...) of the padded
    # box: where cv2.resize by grid puts a source pixel's centre.
    cw, ch = -(-bw // grid), -(-bh // grid)
    gx = np.arange(cw) * grid + (grid - 1) / 2
    gy = np.arange(ch) * grid + (grid - 1) / 2
    rows, cols = np.minimum(gy.astype(int) + 1, bh - 1), np.minimum(gx.astype(int) + 1, bw - 1)
    lab = labels[rows][:, cols]  # (ch, cw): the triangle at each lattice point
    table = np.zeros((len(tris) + 1, 2, 3))
    table[-1] = ((1, 0, 0), (0, 1, 0))  # label -1: the identity
    table[:-1][moving] = triangle_affines(src, dst, tris[moving])
    a = table[lab]  # (ch, cw, 2, 3)
    px, py = gx[None, :] + x0, gy[:, None] + y0
    coarse = [a[..., k, 0] * px + a[..., k, 1] * py + a[..., k, 2] for k in range(2)]
    # Only a triangle whose map stretches a pixel to more than REACH / 2 can read far
    # from a point the rasteriser gave it just outside (a sliver where lips or lids
    # meet); those points are checked (:func:`_sources`).
    steep = (np.abs(table[:, :, :2]).max(axis=(1, 2)) > REACH / 2)[lab]
    if steep.any():
        t = lab[steep]
        each, at = np.unique(t, return_inverse=True)
        to_weights = _barycentric_maps(dst, tris[each])[at]
        xs, ys = np.broadcast_to(px, lab.shape)[steep], np.broadcast_to(py, lab.shape)[steep]
        second_third = np.einsum("nij,jn->ni", to_weights, [xs, ys, np.ones_like(xs)])
        weights = np.column_stack([1.0 - second_third.sum(axis=1), second_third])
        coarse[0][steep], coarse[1][steep] = _sources(weights, src[tris[t]]).T
    maps = [cv2.resize(c.astype(np.float32), (cw * grid, ch * grid)) for c in coarse]
    return maps[0], maps[1]


def _labels(
    dst: Points, tris: NDArray[np.int32], moving: NDArray[np.bool_], shape: tuple[int, int]
) -> NDArray[np.int32]:
    """Each pixel's moving triangle in the ``dst`` mesh (-1: none), smallest first: a
    pixel two triangles touch takes the larger one's map. A sliver (where the lips or
    lids meet) drawn last claimed pixels it only grazes, and its map, extrapolated
    there, reached far across the picture (a dark blob at the mouth's corner, a notch
    in the cheek's edge)."""
    labels = np.full(shape, -1, np.int32)
    pts = np.round(dst * 16).astype(np.int32)
    order = np.flatnonzero(moving)
    area = np.abs(signed_areas(dst, tris[order]))
    for i in order[np.argsort(area, kind="stable")]:
        cv2.fillConvexPoly(labels, pts[tris[i]], int(i), lineType=cv2.LINE_8, shift=4)
    return labels


def _barycentric_maps(dst: Points, tris: NDArray[np.int32]) -> NDArray[np.float64]:
    """Per triangle, the (2, 3) affine map from a point (x, y, 1) to its barycentric
    weights on the ``dst`` triangle's second and third corners (the first's is 1 minus
    both): the map taking the triangle onto (0, 0), (1, 0), (0, 1)."""
    n = len(tris)
    unit = np.tile([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], (n, 1))
    corners = np.asarray(dst, np.float64)[tris].reshape(-1, 2)
    return triangle_affines(unit, corners, np.arange(3 * n, dtype=np.int32).reshape(n, 3))


def _sources(weights: NDArray[np.float64], corners: NDArray[np.float64]) -> NDArray[np.float64]:
    """Source points (N, 2) of points with these barycentric ``weights`` (N, 3) in
    triangles whose source ``corners`` are (N, 3, 2). A point outside its triangle is
    extrapolated, unless that would read more than ``REACH`` px away from the
    triangle's source; then it is pulled onto the triangle (weights clipped at 0). A
    sliver (where lips or lids meet) extrapolates far: a patch of somewhere else in the
    picture (the suit) showed at the mouth's corner."""
    out = np.einsum("ni,nij->nj", weights, corners)
    inside = np.maximum(weights, 0.0)
    inside /= np.maximum(inside.sum(axis=1, keepdims=True), 1e-12)
    pulled = np.einsum("ni,nij->nj", inside, corners)
    far = np.linalg.norm(out - pulled, axis=1) > REACH
    out[far] = pulled[far]
    return out
