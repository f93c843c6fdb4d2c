"""5-point landmarks per template track: derived from the 68, refined with a detector's
keypoints (matched by box, correction held and smoothed), stored as a track extra."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from server.gif_templates.analysis import (
    ANALYSIS_VERSION,
    TemplateAnalysis,
    analyse_animation,
    load_analysis,
    save_analysis,
)
from server.gif_templates.landmarks5 import (
    LANDMARKS5,
    attach_landmarks5,
    derive_landmarks5,
    track_landmarks5,
)
from server.gif_templates.tracks import FaceTrack
from server.types import Frame
from server.vision.shape import landmarks5
from tests.gif_templates.helpers import astronaut, face_points

N = 12


def make_track(absent: tuple[int, ...] = (5,)) -> FaceTrack:
    lm = np.stack([face_points(100 + 2 * i, 90 + i, 80, 0.02 * i) for i in range(N)])
    boxes = np.concatenate([lm.min(axis=1), lm.max(axis=1)], axis=1).astype(np.float32)
    present = np.ones(N, bool)
    present[list(absent)] = False
    lm[~present] = np.nan
    boxes[~present] = np.nan
    return FaceTrack(0, lm, present, present.copy(), {"box": boxes})


def test_derived_points_are_the_68_point_landmarks5() -> None:
    track = make_track()
    derived = derive_landmarks5(track.landmarks)
    assert derived.shape == (N, 5, 2) and derived.dtype == np.float32
    for i in range(N):
        if track.present[i]:
            np.testing.assert_allclose(derived[i], landmarks5(track.landmarks[i]), atol=1e-5)
        else:
            assert np.isnan(derived[i]).all()


def test_stored_points_win_and_old_analyses_derive_them() -> None:
    track = make_track()
    np.testing.assert_array_equal(track_landmarks5(track), derive_landmarks5(track.landmarks))
    stored = derive_landmarks5(track.landmarks) + np.float32(1.5)
    track.extras[LANDMARKS5] = stored
    np.testing.assert_array_equal(track_landmarks5(track), stored)
    track.extras[LANDMARKS5] = stored[:3]  # malformed: ignored
    np.testing.assert_array_equal(track_landmarks5(track), derive_landmarks5(track.landmarks))


def detections_with_offset(
    track: FaceTrack, offset: np.ndarray, missing: tuple[int, ...] = ()
) -> list[tuple[np.ndarray, np.ndarray]]:
    """A fake detector's per-frame output: the track's face (box grown like SCRFD's,
    points = derived + offset[frame]) next to an unrelated face."""
    derived = derive_landmarks5(track.landmarks)
    out = []
    for f in range(N):
        other_box = np.array([[300, 300, 380, 380]], np.float32)
        other_kps = np.full((1, 5, 2), 340, np.float32)
        if not track.present[f] or f in missing:
            out.append((other_box, other_kps))
            continue
        box = track.extras["box"][f] + np.array([-6, -14, 6, 4], np.float32)
        kps = derived[f] + offset[f]
        out.append((np.concatenate([other_box, box[None]]), np.concatenate([other_kps, kps[None]])))
    return out


def test_a_steady_detector_correction_is_applied_everywhere() -> None:
    track = make_track()
    shift = np.tile(np.array([[1.5, -2.0]], np.float32), (N, 5, 1))
    detections = detections_with_offset(track, shift, missing=(2, 3))
    stats = attach_landmarks5(
        [track], [np.zeros((1, 1, 3), np.uint8)] * N, lambda f: detections.pop(0)
    )
    refined = track.extras[LANDMARKS5]
    derived = derive_landmarks5(track.landmarks)
    present = track.present
    np.testing.assert_allclose(refined[present], derived[present] + shift[present], atol=1e-4)
    assert np.isnan(refined[~present]).all()
    assert stats == {"track0_landmarks5_scrfd": round(9 / 11, 4)}  # 11 present, 2 unmatched


def test_detector_noise_is_smoothed_not_copied() -> None:
    track = make_track(absent=())
    noise = np.random.default_rng(1).normal(0, 1.0, (N, 5, 2)).astype(np.float32)
    detections = detections_with_offset(track, noise)
    attach_landmarks5([track], [np.zeros((1, 1, 3), np.uint8)] * N, lambda f: detections.pop(0))
    correction = track.extras[LANDMARKS5] - derive_landmarks5(track.landmarks)
    assert np.abs(np.diff(correction, axis=0)).mean() < 0.5 * np.abs(np.diff(noise, axis=0)).mean()


def test_disagreeing_or_far_detections_are_ignored() -> None:
    track = make_track()
    far = np.tile(np.array([[60.0, 0.0]], np.float32), (N, 5, 1))  # beyond MAX_DISAGREEMENT
    detections = detections_with_offset(track, far)
    stats = attach_landmarks5(
        [track], [np.zeros((1, 1, 3), np.uint8)] * N, lambda f: detections.pop(0)
    )
    np.testing.assert_array_equal(track.extras[LANDMARKS5], derive_landmarks5(track.landmarks))
    assert stats["track0_landmarks5_scrfd"] == 0.0


def test_analysis_stores_the_points_and_keeps_its_version(
    face_bgr: Frame, models: Any, tmp_path: Path
) -> None:
    calls: list[int] = []

    def nothing_found(frame: Frame) -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        return np.zeros((0, 4), np.float32), np.zeros((0, 5, 2), np.float32)

    anim = astronaut(face_bgr, n=4)
    analysis = analyse_animation(anim, models, five_points=nothing_found)
    assert analysis.version == ANALYSIS_VERSION and len(calls) == 4
    track = analysis.tracks[0]
    np.testing.assert_array_equal(track.extras[LANDMARKS5], derive_landmarks5(track.landmarks))
    assert analysis.stats["track0_landmarks5_scrfd"] == 0.0
    save_analysis(analysis, tmp_path / "a.npz")
    loaded: TemplateAnalysis = load_analysis(tmp_path / "a.npz")
    np.testing.assert_array_equal(loaded.tracks[0].extras[LANDMARKS5], track.extras[LANDMARKS5])
    plain = analyse_animation(anim, models)  # no detector: derived points, no stats
    np.testing.assert_array_equal(plain.tracks[0].extras[LANDMARKS5], track.extras[LANDMARKS5])
    assert "track0_landmarks5_scrfd" not in plain.stats
