"""LivePortrait's portrait crop from 68 landmarks, and the paste mask."""

from __future__ import annotations

import numpy as np
import pytest

from server.engines.motion_lp_crop import (
    CROP_SCALE,
    CROP_SIZE,
    CROP_VY,
    crop_mask,
    crop_matrix,
    paste_back,
    paste_mask,
)
from tests.gif_templates.helpers import face_points


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def test_upright_face_is_centred_and_scaled_as_livePortrait_crops():
    points = face_points(300.0, 250.0, 100.0)
    matrix = crop_matrix(points)
    extent = float(np.max(points.max(axis=0) - points.min(axis=0)))
    assert np.hypot(*matrix[:, 0]) == pytest.approx(CROP_SIZE / (extent * CROP_SCALE), rel=0.01)
    box_centre = (points.min(axis=0) + points.max(axis=0)) / 2
    in_crop = _apply(matrix, box_centre[None])[0]
    # 3 px: the test face's eyes-to-mouth axis leans a little, so its upright box differs
    assert in_crop[0] == pytest.approx(CROP_SIZE / 2, abs=3.0)
    assert in_crop[1] == pytest.approx(CROP_SIZE / 2 - CROP_VY * CROP_SIZE, abs=3.0)  # sits low


@pytest.mark.parametrize("angle", [-0.5, 0.3])
def test_a_tilted_face_is_turned_upright(angle):
    matrix = crop_matrix(face_points(200.0, 200.0, 90.0, angle=angle))
    upright = _apply(crop_matrix(face_points(200.0, 200.0, 90.0)), face_points(200, 200, 90))
    tilted = _apply(matrix, face_points(200.0, 200.0, 90.0, angle=angle))
    np.testing.assert_allclose(tilted, upright, atol=0.5)


def test_degenerate_landmarks_are_refused():
    with pytest.raises(ValueError):
        crop_matrix(np.zeros((68, 2), np.float32))


def test_the_mask_vanishes_at_the_crop_and_portrait_edges():
    mask = crop_mask()
    assert mask[CROP_SIZE // 2, CROP_SIZE // 2] == pytest.approx(1.0, abs=1e-3)
    edges = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
    assert edges.max() < 1e-3
    near_edge = face_points(30.0, 60.0, 80.0)  # a face close to the portrait's corner
    weight = paste_mask((240, 200, 3), crop_matrix(near_edge))
    assert weight.max() > 0.9
    assert weight[0].max() == weight[:, 0].max() == 0.0


def test_paste_back_keeps_the_portrait_where_the_weight_is_zero():
    rng = np.random.default_rng(0)
    portrait = rng.integers(0, 256, (200, 180, 3), dtype=np.uint8)
    matrix = crop_matrix(face_points(90.0, 100.0, 50.0))
    weight = paste_mask(portrait.shape, matrix)
    generated = np.full((CROP_SIZE, CROP_SIZE, 3), 255.0, np.float32)
    out = paste_back(portrait, generated, matrix, weight)
    np.testing.assert_array_equal(out[weight == 0], portrait[weight == 0])
    assert (out[weight > 0.99] >= 252).all()
