"""Seam matching (server.vision.seam): the face layer's colour along its outline meets
the template skin's there, hair at the edge does not pull it, and the template's side is
averaged over frames."""

from __future__ import annotations

import cv2
import numpy as np

from server.types import Box
from server.vision import seam

SIZE = 200
BOX = Box(0, 0, SIZE, SIZE)
IOD = 60.0
SKIN = (120.0, 150.0, 200.0)  # BGR: the template's skin at the edge
LAYER = (100.0, 125.0, 175.0)  # the pasted face, darker


def circle(radius: float = 80.0, n: int = 40) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([100 + radius * np.cos(t), 100 + radius * np.sin(t)], 1)


FEATURES = circle(25.0, 12)  # where eyes, nose and mouth would be: left out of the band


def skin_stats(bgr: tuple[float, float, float]) -> np.ndarray:
    pixel = np.array([[bgr]], np.float32) / 255.0
    lab = cv2.cvtColor(pixel, cv2.COLOR_BGR2Lab)[0, 0]
    return np.array([lab, (4.0, 2.0, 2.0)], np.float32)


def plain(bgr: tuple[float, float, float]) -> np.ndarray:
    return np.full((SIZE, SIZE, 3), bgr, np.float32)


def band_means(image: np.ndarray, outline: np.ndarray, where: np.ndarray | None = None) -> float:
    """Mean colour of ``image`` in the outline's feathered band (where ``where``)."""
    ring = seam._Ring(BOX, outline, FEATURES, IOD)
    pick = ring.band > 0
    if where is not None:
        pick &= ring.on_grid(where.astype(np.float32)) > 0.99
    return ring.on_grid(image)[pick].mean(axis=0)


def matched(template: np.ndarray, layer: np.ndarray, outline: np.ndarray) -> np.ndarray:
    stats = skin_stats(SKIN)
    edge = seam.template_edge(template.astype(np.uint8), outline, FEATURES, stats, IOD)
    alpha = np.ones((SIZE, SIZE), np.float32)
    fix = seam.correction(layer, alpha, edge, BOX, outline, FEATURES, IOD)
    assert fix is not None
    return layer + fix


def test_the_layer_meets_the_template_skin_along_the_outline_and_keeps_its_middle() -> None:
    outline = circle()
    out = matched(plain(SKIN), plain(LAYER), outline)
    # along the outline: most of the way to the template's skin, from 25 grey levels off
    before = np.abs(np.subtract(SKIN, LAYER))
    assert (np.abs(band_means(out, outline) - SKIN) < 0.3 * before).all()
    # the middle of the face keeps its own colour
    middle = out[95:105, 95:105].reshape(-1, 3).mean(axis=0)
    assert np.abs(middle - LAYER).max() < 0.1 * np.abs(np.subtract(SKIN, LAYER)).max()


def test_a_lit_side_is_matched_on_that_side_only() -> None:
    outline = circle()
    template = plain(SKIN)
    template[:, :100] += 30.0  # a highlight on the image-left side of the face
    out = matched(template, plain(SKIN), outline)
    left, right = np.zeros((SIZE, SIZE), bool), np.zeros((SIZE, SIZE), bool)
    left[:, :60], right[:, 140:] = True, True
    # most of the way to the template's lit edge (30 grey levels brighter) on the lit side
    lit = band_means(template, outline, left)
    assert np.abs(band_means(out, outline, left) - lit).max() < 0.3 * 30.0
    assert np.abs(band_means(out, outline, right) - SKIN).max() < 2


def test_hair_over_the_edge_does_not_pull_the_face_towards_it() -> None:
    outline = circle()
    template = plain(SKIN)
    template[:70] = (30.0, 35.0, 45.0)  # dark hair over the top of the face
    out = matched(template, plain(LAYER), outline)
    top, sides = np.zeros((SIZE, SIZE), bool), np.zeros((SIZE, SIZE), bool)
    top[:50], sides[80:120] = True, True
    # under the hair the face is not darkened towards it; beside it, it meets the skin
    assert (band_means(out, outline, top) >= np.subtract(LAYER, 1.0)).all()
    before = np.abs(np.subtract(SKIN, LAYER))
    assert (np.abs(band_means(out, outline, sides) - SKIN) < 0.3 * before).all()


def test_no_skin_at_the_edge_leaves_the_layer_alone() -> None:
    outline = circle()
    stats = skin_stats(SKIN)
    green = plain((60.0, 200.0, 60.0))
    edge = seam.template_edge(green.astype(np.uint8), outline, FEATURES, stats, IOD)
    alpha = np.ones((SIZE, SIZE), np.float32)
    assert seam.correction(plain(LAYER), alpha, edge, BOX, outline, FEATURES, IOD) is None


def test_the_template_edge_is_averaged_over_neighbouring_frames() -> None:
    rng = np.random.default_rng(3)
    edges = np.zeros((30, seam.SECTORS, 4), np.float32)
    edges[:, :, :3] = 150.0 + rng.normal(0, 10, (30, seam.SECTORS, 3))
    edges[:, :, 3] = 20.0
    edges[10, :, 3] = 0.0  # a frame without the face: no weight, whatever its colour
    edges[10, :, :3] = 0.0
    out = seam.smoothed(edges, 9)
    assert (
        np.abs(np.diff(out[:, :, :3], axis=0)).mean()
        < 0.4 * np.abs(np.diff(edges[:, :, :3], axis=0)).mean()
    )
    assert np.abs(out[8:13, :, :3] - 150.0).max() < 20.0


def test_a_sector_losing_its_skin_fades_out_rather_than_flipping() -> None:
    """From one frame to the next a sector's skin may shrink past any threshold (a
    strand of hair, the face turning): the correction must change a little, not jump,
    or the face's edge flickers."""
    outline = circle()
    alpha = np.ones((SIZE, SIZE), np.float32)
    ring = seam._Ring(BOX, outline, FEATURES, IOD)
    least = max(seam._LEAST * float(ring.band.sum()) / seam.SECTORS, 1e-3)
    fields = []
    for weight in (1.05 * least, 0.95 * least):
        edge = np.zeros((seam.SECTORS, 4), np.float32)
        edge[:, :3], edge[:, 3] = SKIN, 50 * least
        edge[4, :3], edge[4, 3] = np.add(SKIN, 30.0), weight  # a lit patch, little skin
        fix = seam.correction(plain(LAYER), alpha, edge, BOX, outline, FEATURES, IOD)
        assert fix is not None
        fields.append(fix)
    assert np.abs(fields[0] - fields[1]).max() < 1.0


def test_sector_weights_compare_across_grids_of_different_scale() -> None:
    """A small template face is measured on a grid at its own scale and the swapped face
    at a larger one (small faces are swapped enlarged): the weights are shares of each
    band, so the same skin weighs the same on both (in grid cells they differed by the
    square of the grids' ratio, here 2.25)."""
    small_iod, k = 16.0, 3.0
    outline = (circle() - 100.0) * (25.0 / 80.0) + 30.0
    features = (FEATURES - 100.0) * (25.0 / 80.0) + 30.0
    frame = np.full((60, 60, 3), SKIN, np.uint8)
    template = seam.template_edge(frame, outline, features, skin_stats(SKIN), small_iod)
    ring = seam._Ring(Box(0, 0, 180, 180), outline * k, features * k, small_iod * k)
    enlarged = ring.sector_means(ring.on_grid(np.full((180, 180, 3), SKIN, np.float32)), ring.band)
    assert ring.size[0] > 1.4 * 60  # the two grids differ in scale
    np.testing.assert_allclose(template[:, 3], enlarged[:, 3], rtol=0.25)
    assert abs(float(template[:, 3].sum()) - 1.0) < 0.02
