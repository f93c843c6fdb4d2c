"""Piecewise-affine mesh warping (server.vision.warp) against OpenCV's own warpAffine."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from server.types import Box
from server.vision.warp import MeshRaster, remap, triangle_affines, triangulate, warp_mesh

SIZE = 200
FULL = Box(0, 0, SIZE, SIZE)
# dst -> src is the map warp_mesh samples with; OpenCV's warpAffine(img, A) shows img at
# A^-1(x) in pixel x, so a mesh with dst = A(src) must give the same picture.
A = np.array([[1.05, 0.12, -8.0], [-0.08, 0.97, 6.0]])


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    """Textured test picture: a crop of scikit-image's astronaut (public domain)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:SIZE, 100 : 100 + SIZE, ::-1])


def mesh_points(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    corners = [[30, 30], [170, 30], [170, 170], [30, 170]]
    return np.concatenate([rng.uniform(40, 160, (20, 2)), corners])


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def hull(pts: np.ndarray, box: Box = FULL) -> np.ndarray:
    mask = np.zeros((box.height, box.width), np.uint8)
    local = np.round(pts - (box.left, box.top)).astype(np.int32)
    cv2.fillConvexPoly(mask, cv2.convexHull(local), 1)
    return mask.astype(bool)


def test_triangle_affines_map_each_destination_triangle_onto_its_source() -> None:
    src = mesh_points()
    dst = apply(A, src) + np.random.default_rng(1).normal(0, 3, src.shape)  # not one affine
    tris = triangulate(dst)
    affines = triangle_affines(src, dst, tris)
    assert affines.shape == (len(tris), 2, 3)
    for tri, m in zip(tris, affines, strict=True):
        np.testing.assert_allclose(apply(m, dst[tri]), src[tri], atol=1e-6)


@pytest.mark.parametrize("box", [FULL, Box(50, 40, 150, 170)], ids=["full", "sub-box"])
def test_affine_consistent_mesh_matches_warp_affine_inside_the_hull(
    image: np.ndarray, box: Box
) -> None:
    src = mesh_points()
    dst = apply(A, src)
    patch, inside = warp_mesh(image, src, dst, triangulate(dst), box)
    assert patch.shape == (box.height, box.width, 3) and inside.shape == patch.shape[:2]
    reference = cv2.warpAffine(image, A, (SIZE, SIZE), flags=cv2.INTER_LINEAR)
    reference = reference[box.top : box.bottom, box.left : box.right]
    diff = np.abs(patch.astype(int) - reference)[inside]
    assert diff.max() <= 2 and diff.mean() < 0.05  # bilinear with 1/32 px fixed point
    # the mesh covers its hull (one pixel of slack at the edge), nothing beyond it
    shape = hull(dst, box)
    assert inside[cv2.erode(shape.astype(np.uint8), np.ones((3, 3))) > 0].all()
    assert not inside[cv2.dilate(shape.astype(np.uint8), np.ones((3, 3))) == 0].any()


def test_identity_mesh_returns_the_image(image: np.ndarray) -> None:
    pts = mesh_points(3)
    patch, inside = warp_mesh(image, pts, pts, triangulate(pts), FULL)
    assert inside.sum() > 0.4 * SIZE * SIZE
    np.testing.assert_array_equal(patch[inside], image[inside])


def test_restricted_raster_keeps_only_the_chosen_triangles(image: np.ndarray) -> None:
    src = mesh_points()
    dst = apply(A, src)
    tris = triangulate(dst)
    raster = MeshRaster.build(dst, tris, FULL)
    keep = np.zeros(len(tris), bool)
    keep[::2] = True
    part = raster.restricted(keep)
    kept_px = np.isin(raster.labels, np.flatnonzero(keep))
    np.testing.assert_array_equal(part.labels[kept_px], raster.labels[kept_px])
    assert (part.labels[~kept_px] == -1).all()
    assert raster.inside.sum() > part.inside.sum() > 0  # the original is untouched
    mx, my = part.maps(triangle_affines(src, dst, tris))
    warped = remap(image, mx, my, cv2.BORDER_CONSTANT)
    assert not warped[~part.inside].any()  # dropped triangles sample far off the image
    full_mx, full_my = raster.maps(triangle_affines(src, dst, tris))
    np.testing.assert_array_equal(mx[part.inside], full_mx[part.inside])
    np.testing.assert_array_equal(my[part.inside], full_my[part.inside])


def _sliver_mesh(
    sliver: list[list[float]], moved: list[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A square split around a destination triangle ``sliver`` (points 4-6) whose
    middle point sits at ``moved`` in the source: a triangle collapsed in the output."""
    corners = [[20.0, 20.0], [180.0, 20.0], [180.0, 180.0], [20.0, 180.0]]
    dst = np.array(corners + sliver, np.float64)
    src = dst.copy()
    src[5] = moved
    tris = np.array(
        [[0, 1, 6], [0, 6, 5], [0, 5, 4], [0, 4, 3], [3, 4, 5], [3, 5, 6], [3, 6, 2], [1, 2, 6],
         [4, 5, 6]],
        np.int32,
    )  # fmt: skip
    return src, dst, tris


def test_duplicate_vertices_do_not_crash_and_other_triangles_stay_exact(image: np.ndarray) -> None:
    src, dst, tris = _sliver_mesh([[60, 100], [100, 100], [100, 100]], [100, 90])
    affines = triangle_affines(src, dst, tris)  # a singular system: least squares
    assert np.isfinite(affines).all()
    for tri, m in zip(tris, affines, strict=True):
        if len({tuple(p) for p in dst[tri]}) == 3:
            np.testing.assert_allclose(apply(m, dst[tri]), src[tri], atol=1e-6)
    patch, inside = warp_mesh(image, src, dst, tris, FULL)
    assert patch.shape == image.shape and inside.any()
    raster = MeshRaster.build(dst, tris, FULL)
    _, my = raster.maps(affines)
    line = raster.labels == 8
    assert line.any() and (np.abs(my[line] - 95) <= 6).all()  # between y=90 and y=100


def test_fully_collapsed_mesh_does_not_crash(image: np.ndarray) -> None:
    src = np.array([[50.0, 50.0], [60.0, 50.0], [50.0, 60.0]])
    dst = np.full((3, 2), 50.0)
    patch, inside = warp_mesh(image, src, dst, np.array([[0, 1, 2]], np.int32), Box(40, 40, 60, 60))
    assert patch.shape == (20, 20, 3) and inside.sum() <= 1


COLLINEAR = [
    [[60.0, 100.0], [100.0, 100.0], [140.0, 100.0]],
    [[10.0, 10.0], [20.0, 30.0], [30.0, 50.0]],
    [[33.0, 71.0], [66.0, 92.0], [99.0, 113.0]],
]


def test_collinear_destination_triangle_samples_inside_its_source_triangle() -> None:
    bad = []
    for sliver in COLLINEAR:
        src, dst, tris = _sliver_mesh(sliver, [sliver[1][0], sliver[1][1] - 10.0])
        raster = MeshRaster.build(dst, tris, FULL)
        mx, my = raster.maps(triangle_affines(src, dst, tris))
        line = raster.labels == 8
        # A flat triangle has no exact affine map; the least-squares one may miss its
        # source points by up to the middle point's 10 px offset, not by 1e16.
        lo, hi = src[4:7].min(0) - 10, src[4:7].max(0) + 10
        ok = (mx[line] >= lo[0]) & (mx[line] <= hi[0]) & (my[line] >= lo[1]) & (my[line] <= hi[1])
        if not ok.all():
            bad.append(sliver)
    assert not bad, f"collinear triangles sampled outside their source: {bad}"
