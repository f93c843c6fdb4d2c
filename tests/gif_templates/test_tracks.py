"""Linking, false-positive removal, gap filling and smoothing on synthetic detections."""

from __future__ import annotations

import numpy as np

from server.gif_templates.linking import link_all
from server.gif_templates.smoothing import jitter, smooth_landmarks
from server.gif_templates.tracks import (
    densify,
    face_sizes,
    fill_gaps,
    keep_real_faces,
    order_tracks,
)
from tests.gif_templates.helpers import detection, face_points


def test_two_faces_crossing_paths_keep_their_tracks() -> None:
    per_frame = []
    for i in range(20):
        a = detection(40 + 12 * i, 100, 60)  # moving right
        b = detection(268 - 12 * i, 118, 60)  # moving left, crossing at frame ~9
        per_frame.append([b, a] if i % 2 else [a, b])  # detector order is arbitrary
    tracks = link_all(per_frame)

    assert len(tracks) == 2
    for track in tracks:
        assert sorted(track.observations) == list(range(20))
        xs = [track.observations[f].centre[0] for f in range(20)]
        ys = {round(track.observations[f].centre[1]) for f in range(20)}
        assert len(ys) == 1  # never swapped to the other face's row
        assert np.all(np.diff(xs) > 0) or np.all(np.diff(xs) < 0)


def test_a_missed_frame_is_linked_and_gap_filled() -> None:
    per_frame = [[detection(100 + 4 * i, 80, 70)] if i != 5 else [] for i in range(12)]
    tracks = link_all(per_frame)
    assert len(tracks) == 1
    track = densify(tracks[0], 12)
    assert not track.present[5] and np.isnan(track.landmarks[5]).all()

    filled = fill_gaps(track, refit=lambda frame, box: None)

    assert filled == 1 and track.present[5] and not track.detected[5]
    expected = (track.landmarks[4] + track.landmarks[6]) / 2
    np.testing.assert_allclose(track.landmarks[5], expected, atol=1e-4)


def test_gap_fill_uses_a_plausible_refit_and_rejects_a_wild_one() -> None:
    per_frame = [[detection(100, 80, 70)] if i not in (3, 4) else [] for i in range(8)]
    truth = face_points(100, 80, 70) + np.array([1.5, -1.0], np.float32)  # what dlib "sees"
    good = densify(link_all(per_frame)[0], 8)
    fill_gaps(good, refit=lambda frame, box: truth)
    np.testing.assert_allclose(good.landmarks[3], truth)

    wild = densify(link_all(per_frame)[0], 8)
    fill_gaps(wild, refit=lambda frame, box: (truth * 1.5).astype(np.float32))
    np.testing.assert_allclose(wild.landmarks[3], face_points(100, 80, 70), atol=1e-4)


def test_long_gaps_and_the_ends_stay_absent() -> None:
    seen = [i for i in range(30) if 3 <= i < 10 or 18 <= i < 26]  # 8-frame gap
    per_frame = [[detection(100, 80, 70)] if i in seen else [] for i in range(30)]
    tracks = link_all(per_frame)
    assert len(tracks) == 1  # relinked after the long gap (same place, same size)
    track = densify(tracks[0], 30)
    assert fill_gaps(track) == 0
    assert track.present.tolist() == [i in seen for i in range(30)]


def test_one_frame_false_positive_and_weak_patterns_are_dropped() -> None:
    per_frame = []
    for i in range(15):
        dets = [detection(120 + i, 90, 80), detection(40, 200, 40, score=0.1)]  # weak, always
        if i == 7:
            dets.append(detection(300, 40, 50, score=0.9))  # one frame only
        per_frame.append(dets)
    tracks = link_all(per_frame)
    assert len(tracks) == 3

    kept = keep_real_faces(tracks, 15)

    assert len(kept) == 1 and len(kept[0].observations) == 15
    assert keep_real_faces(link_all([[detection(50, 50, 60)]]), 1)  # a still: one frame is all


def test_main_track_is_the_larger_longer_face() -> None:
    per_frame = [
        [detection(60, 60, 40), *([detection(200, 80, 90)] if i >= 4 else [])] for i in range(10)
    ]
    tracks = [densify(t, 10) for t in link_all(per_frame)]
    ordered = order_tracks(tracks)
    assert [t.track_id for t in ordered] == [0, 1]
    assert ordered[0].face_size > 80 and ordered[0].present.sum() == 6


def _noisy_talking_head(n: int, shake: float, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = []
    for i in range(n):
        t = i / 15.0
        pts = face_points(200 + shake * np.sin(2 * np.pi * 2.5 * t), 150, 100, 0.1 * np.sin(t))
        pts[[56, 57, 58, 65, 66, 67]] += (0, 8 * max(0.0, np.sin(2 * np.pi * t)))  # mouth opens
        truth.append(pts)
    clean = np.array(truth, np.float32)
    return clean, (clean + rng.normal(0, 0.8, clean.shape)).astype(np.float32)


def test_smoothing_removes_jitter_without_lagging_a_shaking_head() -> None:
    present = np.ones(45, bool)
    for shake in (0.0, 18.0):  # still head / a fast head shake (~7 px a frame)
        clean, noisy = _noisy_talking_head(45, shake)
        smooth = smooth_landmarks(noisy, present)
        err_noisy = np.linalg.norm(noisy - clean, axis=2).mean()
        err_smooth = np.linalg.norm(smooth - clean, axis=2).mean()
        assert err_smooth < 0.75 * err_noisy  # window-7 Savitzky-Golay: ~0.6 on white noise
        assert jitter(smooth, present)["shape_accel"] < 0.5 * jitter(noisy, present)["shape_accel"]
        lag = np.linalg.norm(smooth.mean(axis=1) - clean.mean(axis=1), axis=1)
        assert lag.max() < 1.0  # pixels, on a 100 px face


def test_smoothing_keeps_runs_separate_and_absent_frames_nan() -> None:
    _, noisy = _noisy_talking_head(30, 0.0)
    present = np.ones(30, bool)
    present[12:15] = False
    noisy[~present] = np.nan
    smooth = smooth_landmarks(noisy, present)
    assert np.isnan(smooth[12:15]).all() and not np.isnan(smooth[present]).any()
    assert np.abs(face_sizes(smooth[present]) - 100).max() < 5
