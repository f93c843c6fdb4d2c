"""The motion measures: displacement r, mouth r and border motion on known inputs."""

from __future__ import annotations

import numpy as np

from tools.motion_quality import (
    border_motion,
    eye_frame_displacements,
    mouth_opening,
    pearson,
)
from tools.motion_quality_table import table


def _face() -> np.ndarray:
    rng = np.random.default_rng(0)
    pts = rng.random((68, 2)) * 40 + 30
    pts[36:42] = (40, 50)
    pts[42:48] = (60, 50)
    pts[[61, 62, 63]] = (50, 80)
    pts[[65, 66, 67]] = (50, 82)
    return pts


def test_displacements_ignore_scale_and_placement_of_frame_0() -> None:
    face = _face()
    moved = face.copy()
    moved[[65, 66, 67], 1] += 4.0  # the mouth opens by 0.2 IOD
    big = [face * 2 + 100, moved * 2 + 100]
    a, b = eye_frame_displacements([face, moved]), eye_frame_displacements(big)
    np.testing.assert_allclose(a, b, atol=1e-9)
    np.testing.assert_allclose(a[1, 66], [0.0, 0.2], atol=1e-9)
    assert np.isnan(eye_frame_displacements([face, None])[1]).all()
    gaps = mouth_opening([face, moved, None])
    np.testing.assert_allclose(gaps[:2], [0.1, 0.3], atol=1e-9)
    assert np.isnan(gaps[2])


def test_pearson_skips_missing_and_flat() -> None:
    assert pearson(np.array([1.0, 2, 3, np.nan]), np.array([2.0, 4, 6, 1])) == 1.0
    assert np.isnan(pearson(np.ones(5), np.arange(5.0)))


def test_border_motion_sees_only_the_border() -> None:
    still = np.full((100, 100, 3), 100, np.uint8)
    inner = still.copy()
    inner[20:80, 20:80] = 0
    edge = still.copy()
    edge[:8] = 140  # the top 8 rows are in the outer 8 %
    assert border_motion([still, inner]) == (0.0, 0.0)
    mean, worst = border_motion([still, edge])
    assert worst > 3.0 and mean == worst / 2
    rows = [{"selfie": "a", "clip": "b", "id_ok": 1.0, "id_dist_median": 0.3, "r_disp": 0.9,
             "r_mouth": 0.5, "border": 1.0, "border_max": 2.0}]  # fmt: skip
    assert "r_mouth: 0/1" in table(rows) and "| a | b | 1.00 |" in table(rows)


def test_blink_ear_compares_the_blinking_eye_with_frame_0() -> None:
    from tools.motion_quality import blink_ear

    face = _face()
    face[[37, 38]] = (45, 47)
    face[[41, 40]] = (45, 53)  # left eye 6 px open, 20 wide
    face[36], face[39] = (35, 50), (55, 50)
    shut = face.copy()
    shut[[41, 40], 1] = 48.5  # lids 1.5 px apart: a quarter of the opening
    blinks = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 0.0]])
    assert blink_ear([face, shut, shut], blinks) == 0.25  # frame 2 is not a blink
    assert np.isnan(blink_ear([face, face], np.zeros((2, 2))))
    assert np.isnan(blink_ear([None, face], np.ones((2, 2))))


def test_blink_edges_read_the_blinking_eyes_from_the_picture() -> None:
    from server.vision import eye_state
    from tests.render.samples import astronaut, dlib_models
    from tools.motion_quality import blink_edges
    from tools.selfie_variants import eyes_closed

    opened = astronaut()
    lm = dlib_models().detect(opened, use_cnn=False)[0].landmarks
    closed = eyes_closed(opened, lm)
    marks = [dlib_models().detect(f, use_cnn=False)[0].landmarks for f in (opened, closed)]
    blinking = np.array([[0.0, 0.0], [1.0, 1.0]])
    assert blink_edges([opened, closed], marks, blinking) < eye_state.SHUT
    assert blink_edges([opened, opened], marks[:1] * 2, blinking) > 2 * eye_state.SHUT
    assert np.isnan(blink_edges([opened, closed], marks, np.zeros((2, 2))))
