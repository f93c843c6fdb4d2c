"""The animator's warp of a picture over a moving triangle mesh: only the box the
moving triangles cover is resampled, from source coordinates computed exactly on a
lattice and interpolated in between."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame
from server.vision.warp import triangle_affines

Points = NDArray[np.float64]
# The warp's source coordinates are computed exactly every GRID pixels and interpolated
# in between: the map is continuous and piecewise affine, so the error stays far below
# a pixel, and a frame costs a fraction of a per-pixel map.
GRID = 4
STILL = 1e-3  # px: a mesh point moved less than this is still


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
    labels = np.full((bh, bw), -1, np.int32)
    pts = np.round((dst - (x0, y0)) * 16).astype(np.int32)
    for i in np.flatnonzero(moving):
        cv2.fillConvexPoly(labels, pts[tris[i]], int(i), lineType=cv2.LINE_8, shift=4)
    # Lattice point (i, j) sits at pixel (grid i + (grid - 1) / 2, ...) of the padded
    # box: where cv2.resize by grid puts a source pixel's centre.
    cw, ch = -(-bw // grid), -(-bh // grid)
    gx = np.arange(cw) * grid + (grid - 1) / 2
    gy = np.arange(ch) * grid + (grid - 1) / 2
    rows, cols = np.minimum(gy.astype(int) + 1, bh - 1), np.minimum(gx.astype(int) + 1, bw - 1)
    table = np.zeros((len(tris) + 1, 2, 3))
    table[-1] = ((1, 0, 0), (0, 1, 0))  # label -1: the identity
    table[:-1][moving] = triangle_affines(src, dst, tris[moving])
    a = table[labels[rows][:, cols]]  # (ch, cw, 2, 3)
    px, py = gx[None, :] + x0, gy[:, None] + y0
    maps = []
    for k in range(2):
        coarse = (a[..., k, 0] * px + a[..., k, 1] * py + a[..., k, 2]).astype(np.float32)
        maps.append(cv2.resize(coarse, (cw * grid, ch * grid)))
    return maps[0], maps[1]
