"""Landmarks checked against the image's motion: a run of misplaced frames is found and
carried back onto the face; a clean track is left alone."""

from __future__ import annotations

import cv2
import numpy as np

from server.vision import pose, shape, track_check

N = 24


def _clip() -> tuple[list[np.ndarray], np.ndarray]:
    """A textured scene moving by a few pixels a frame, scaling slowly, and the 68
    points of a face painted on it moving with it."""
    rng = np.random.default_rng(3)
    scene = rng.integers(0, 255, (320, 320, 3), np.uint8)
    scene = np.asarray(cv2.GaussianBlur(scene, (0, 0), 2.0), np.uint8)
    mean = pose.mean_face()[:, :2]
    base = (mean - mean.mean(0)) / np.ptp(mean[:, 0]) * 110 + 160
    frames, marks = [], []
    for i in range(N):
        s = 1.0 + 0.004 * i
        m = cv2.getRotationMatrix2D((160.0, 160.0), 0.5 * i, s)
        m[:, 2] += (3.0 * i - 30.0, 2.0 * np.sin(i / 3.0))
        frames.append(np.asarray(cv2.warpAffine(scene, m, (320, 320)), np.uint8))
        marks.append(base @ m[:, :2].T + m[:, 2])
    return frames, np.asarray(marks, np.float32)


def test_clean_track_is_left_alone() -> None:
    frames, marks = _clip()
    repaired, lost = track_check.repair_track(frames, marks)
    assert repaired == {} and lost == []


def test_misplaced_run_is_found_and_carried_back() -> None:
    frames, truth = _clip()
    marks = truth.copy()
    run = [10, 11, 12]
    for i in run:  # well formed, but 15% too large and a third of a face to the side
        c = marks[i].mean(0)
        marks[i] = (marks[i] - c) * 1.15 + c + np.array([25.0, -6.0], np.float32)
    repaired, lost = track_check.repair_track(frames, marks)
    assert sorted(repaired) == run and lost == []
    for i in run:
        err = np.linalg.norm(repaired[i] - truth[i], axis=1).mean()
        assert err < 0.05 * shape.interocular(truth[i])


def test_track_too_short_to_vote_is_left_alone() -> None:
    frames, truth = _clip()
    marks = truth.copy()
    marks[:] = np.nan
    marks[:8] = truth[:8]  # a short track: too few frames to vote
    repaired, lost = track_check.repair_track(frames, marks)
    assert repaired == {} and lost == []
