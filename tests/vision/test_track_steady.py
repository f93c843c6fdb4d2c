"""A track's head placement steadied by the picture's motion: landmarks that drift
against the moving head come back onto it, the face's expression stays as fitted,
absent frames stay absent."""

from __future__ import annotations

import numpy as np

from server.vision import shape, track_steady
from tests.vision.test_track_check import N, _clip


def _drifting(truth: np.ndarray, seed: int = 5) -> np.ndarray:
    """The true points, each frame's face shifted by a random 1.5 px or so (dlib's
    frame-to-frame drift) and a little scaled."""
    rng = np.random.default_rng(seed)
    marks = truth.copy()
    for i in range(len(marks)):
        c = marks[i].mean(0)
        scale = 1.0 + rng.normal(0.0, 0.01)
        marks[i] = (marks[i] - c) * scale + c + rng.normal(0.0, 1.5, 2).astype(np.float32)
    return marks


def _error(marks: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(marks - truth, axis=2).mean())


def test_drift_against_the_head_is_taken_out() -> None:
    frames, truth = _clip()
    marks = _drifting(truth)
    steadied = track_steady.steady_pose(frames, marks)
    before, after = _error(marks, truth), _error(steadied, truth)
    print(f"mean distance to the true points: {before:.2f} px -> {after:.2f} px")
    assert after < 0.6 * before


def test_a_track_on_the_head_stays_there() -> None:
    frames, truth = _clip()
    assert _error(track_steady.steady_pose(frames, truth), truth) < 0.3


def test_the_expression_is_kept() -> None:
    frames, truth = _clip()
    marks = _drifting(truth)
    for i in range(N):  # the mouth opens and closes: not the head's motion
        marks[i, 57:60, 1] += 6.0 * np.sin(i / 2.0) ** 2
    steadied = track_steady.steady_pose(frames, marks)
    for i in range(N):
        gap = marks[i, 57, 1] - marks[i, 51, 1]
        kept = steadied[i, 57, 1] - steadied[i, 51, 1]
        assert abs(kept - gap) < 0.05 * shape.interocular(marks[i])


def test_absent_frames_stay_absent() -> None:
    frames, truth = _clip()
    marks = _drifting(truth)
    marks[8:11] = np.nan
    steadied = track_steady.steady_pose(frames, marks)
    assert np.isnan(steadied[8:11]).all()
    assert not np.isnan(steadied[:8]).any() and not np.isnan(steadied[11:]).any()
    assert _error(steadied[11:], truth[11:]) < _error(marks[11:], truth[11:])
