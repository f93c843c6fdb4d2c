"""The animator's mesh warp: a lattice of exact source coordinates, interpolated,
against the exact per-pixel piecewise-affine warp."""

from __future__ import annotations

import numpy as np

from server.gif_templates.animate import FaceRig
from server.gif_templates.lattice_warp import warp_moving
from server.gif_templates.retarget import opened_mouth
from server.types import Box
from server.vision.warp import warp_mesh
from tests.gif_templates.helpers import face_points


def _picture(h: int = 256, w: int = 256) -> np.ndarray:
    """Blue is x and green is y (in pixels): a warped pixel tells where it was read."""
    ys, xs = np.mgrid[0:h, 0:w]
    return np.ascontiguousarray(np.stack([xs, ys, np.full_like(xs, 128)], -1).astype(np.uint8))


def test_the_lattice_warp_matches_the_exact_warp() -> None:
    image = _picture()
    face = face_points(128.0, 136.0, 90.0)
    rig = FaceRig(image, face, opened_mouth(face))
    dst = rig.src.copy()
    dst[:68] += np.array([6.0, -4.0])  # the face shifts
    dst[[57, 66]] += np.array([0.0, 9.0])  # the lower lip drops
    ours = warp_moving(image, rig.src, dst, rig.tris)
    exact, _ = warp_mesh(image, rig.src, dst, rig.tris, Box(0, 0, 256, 256))
    error = np.abs(ours.astype(int) - exact.astype(int))[..., :2]  # pixels of source x, y
    assert error.mean() < 0.05 and np.percentile(error, 99.9) <= 1 and error.max() <= 3
    # Outside the triangles that move, the picture is copied, bit for bit.
    moving = (np.abs(dst - rig.src).max(1) > 1e-3)[rig.tris].any(1)
    corners = dst[rig.tris[moving]].reshape(-1, 2)
    x0, y0 = np.floor(corners.min(0)).astype(int) - 1
    assert x0 > 0 and y0 > 0
    np.testing.assert_array_equal(ours[:y0], image[:y0])
    np.testing.assert_array_equal(ours[:, :x0], image[:, :x0])


def test_a_still_mesh_copies_the_picture() -> None:
    image = _picture()
    face = face_points(128.0, 136.0, 90.0)
    rig = FaceRig(image, face)
    np.testing.assert_array_equal(warp_moving(image, rig.src, rig.src.copy(), rig.tris), image)


def test_grid_1_is_the_exact_warp() -> None:
    image = _picture()
    face = face_points(128.0, 136.0, 90.0)
    rig = FaceRig(image, face, opened_mouth(face))
    dst = rig.src.copy()
    dst[:68] += np.array([6.0, -4.0])
    ours = warp_moving(image, rig.src, dst, rig.tris, grid=1)
    exact, _ = warp_mesh(image, rig.src, dst, rig.tris, Box(0, 0, 256, 256))
    assert np.abs(ours.astype(int) - exact.astype(int)).max() <= 1  # fixed-point rounding


def test_lips_that_meet_read_no_pixel_from_afar() -> None:
    """An opened mouth's mesh closed again: the triangles between the lips become
    slivers. Every pixel is still read from near where it is (the lower lip moved 14 px;
    the mouth between the lips is read from inside it), not from across the picture
    through a sliver's map extrapolated (150 px away, before)."""
    image = _picture()
    face = face_points(128.0, 136.0, 90.0)
    opened = opened_mouth(face)
    rig = FaceRig(image, opened, opened)
    far = 0.0
    for lift in np.linspace(0.0, 0.2, 9):  # the lower inner lip just under the upper
        dst = rig.src.copy()
        dst[[65, 66, 67]] = dst[[63, 62, 61]] + np.array([0.0, lift])
        for grid in (1, 4):
            out = warp_moving(image, rig.src, dst, rig.tris, grid).astype(float)
            ys, xs = np.mgrid[0:256, 0:256]
            far = max(far, float(np.hypot(out[..., 0] - xs, out[..., 1] - ys).max()))
    gap = float(np.abs(rig.src[[65, 66, 67]] - rig.src[[63, 62, 61]]).max())
    assert far <= 2 * gap
