"""Piecewise-affine warping over a triangle mesh, done as one ``cv2.remap``.

Instead of one ``warpAffine`` per triangle (slow, and seams where triangles meet), the
destination region is rasterised once into a triangle-id image; every pixel then looks
up its triangle's affine map to get its source coordinate. Several source images that
share the destination mesh (the template frame and the selfie texture) reuse the
raster and only pay for their own maps and remap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.spatial import Delaunay

from server.types import Box
from server.vision import shape

Triangles = NDArray[np.int32]  # (T, 3) vertex indices
ImageT = TypeVar("ImageT", np.uint8, np.float32)


def triangulate(points: NDArray[np.floating]) -> Triangles:
    """Delaunay triangulation of 2-D points (a topology reused across frames)."""
    return Delaunay(np.asarray(points, np.float64)).simplices.astype(np.int32)


def triangle_affines(
    src: NDArray[np.floating], dst: NDArray[np.floating], tris: Triangles
) -> NDArray[np.float64]:
    """Per triangle, the (2, 3) affine map taking destination points to source points."""
    d = np.asarray(dst, np.float64)[tris]  # (T, 3, 2)
    s = np.asarray(src, np.float64)[tris]
    ones = np.ones((len(tris), 3, 1))
    dh = np.concatenate([d, ones], axis=2)  # (T, 3, 3): rows (x, y, 1)
    # Solve dh @ A^T = s per triangle. A flat (collinear or collapsed) destination
    # triangle has no affine map; solve() may not even raise for it and return huge
    # values, so those get the minimum-norm least-squares map instead.
    area2 = np.abs(np.linalg.det(dh))
    flat = area2 < 1e-6
    sol = np.empty((len(tris), 3, 2))
    if (~flat).any():
        sol[~flat] = np.linalg.solve(dh[~flat], s[~flat])
    for t in np.flatnonzero(flat):
        sol[t] = np.linalg.pinv(dh[t]) @ s[t]
    return np.transpose(sol, (0, 2, 1))  # (T, 2, 3)


@dataclass
class MeshRaster:
    """Triangle ids of the pixels of ``box`` in a destination mesh (-1 = outside)."""

    box: Box
    labels: NDArray[np.int32]
    xs: NDArray[np.float32]
    ys: NDArray[np.float32]

    @classmethod
    def build(cls, dst: NDArray[np.floating], tris: Triangles, box: Box) -> MeshRaster:
        labels = np.full((box.height, box.width), -1, np.int32)
        pts = np.round((np.asarray(dst, np.float64) - (box.left, box.top)) * 16).astype(np.int32)
        for i, tri in enumerate(tris):
            # shift=4 gives sub-pixel vertex positions; neighbours agree along shared edges.
            cv2.fillConvexPoly(labels, pts[tri], int(i), lineType=cv2.LINE_8, shift=4)
        ys, xs = np.mgrid[box.top : box.bottom, box.left : box.right].astype(np.float32)
        return cls(box, labels, xs, ys)

    @property
    def inside(self) -> NDArray[np.bool_]:
        return self.labels >= 0

    def crop(self, box: Box) -> MeshRaster:
        """The part of this raster inside ``box`` (which must lie within it)."""
        sl = (
            slice(box.top - self.box.top, box.bottom - self.box.top),
            slice(box.left - self.box.left, box.right - self.box.left),
        )
        return MeshRaster(box, self.labels[sl], self.xs[sl], self.ys[sl])

    def restricted(self, keep: NDArray[np.bool_]) -> MeshRaster:
        """The same raster with only the triangles in ``keep`` (others become outside)."""
        lut = np.append(np.where(keep, np.arange(len(keep)), -1), -1).astype(np.int32)
        return MeshRaster(self.box, lut[self.labels], self.xs, self.ys)

    def maps(self, affines: NDArray[np.float64]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Source coordinates for every pixel (outside pixels map off-image)."""
        table = np.concatenate([affines.reshape(-1, 6), np.zeros((1, 6))], 0)
        table[-1, 2] = table[-1, 5] = -1e4  # label -1 (last row) -> far outside the source
        cols = np.ascontiguousarray(table.T, np.float32)
        c = [np.take(cols[k], self.labels) for k in range(6)]  # -1 indexes the last row
        mx = c[0] * self.xs
        mx += c[1] * self.ys
        mx += c[2]
        my = c[3] * self.xs
        my += c[4] * self.ys
        my += c[5]
        return mx, my


def remap(
    image: NDArray[ImageT],
    mx: NDArray[np.float32],
    my: NDArray[np.float32],
    border: int = cv2.BORDER_REPLICATE,
) -> NDArray[ImageT]:
    """Bilinear sampling of ``image`` at (mx, my); same dtype out."""
    out = cv2.remap(image, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=border)
    return np.asarray(out, image.dtype)


def warp_mesh(
    image: NDArray[ImageT],
    src: NDArray[np.floating],
    dst: NDArray[np.floating],
    tris: Triangles,
    box: Box,
) -> tuple[NDArray[ImageT], NDArray[np.bool_]]:
    """Warp ``image`` so that mesh ``src`` lands on ``dst``; returns the ``box`` patch and
    which of its pixels the mesh covers."""
    raster = MeshRaster.build(dst, tris, box)
    mx, my = raster.maps(triangle_affines(src, dst, tris))
    return remap(image, mx, my), raster.inside


def warp_points(
    image: NDArray[ImageT], src: NDArray[np.floating], dst: NDArray[np.floating]
) -> NDArray[ImageT]:
    """``image`` warped so that the 68 face points (and the forehead raised from their
    brows) move from ``src`` to ``dst``; the image border stays put, and so does what
    the mesh does not cover."""
    h, w = image.shape[:2]
    t = np.linspace(0.0, 1.0, 5)
    edge = np.concatenate(
        [
            np.stack([t * (w - 1), np.zeros(5)], 1),
            np.stack([t * (w - 1), np.full(5, h - 1.0)], 1),
            np.stack([np.zeros(3), t[1:4] * (h - 1)], 1),
            np.stack([np.full(3, w - 1.0), t[1:4] * (h - 1)], 1),
        ]
    )
    s = np.concatenate([shape.with_forehead(np.asarray(src, np.float32)), edge])
    d = np.concatenate([shape.with_forehead(np.asarray(dst, np.float32)), edge])
    out, covered = warp_mesh(image, s, d, triangulate(d), Box(0, 0, w, h))
    keep = covered.reshape(covered.shape + (1,) * (image.ndim - 2))
    return np.asarray(np.where(keep, out, image), image.dtype)
