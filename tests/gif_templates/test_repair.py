"""Track repair at analysis time: a frame where dlib put the face beside the head is
carried back onto it before anything is measured on it, and stored that way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from server.faces.dlib_models import DlibFaceModels
from server.gif_templates import analysis as analysis_module
from server.gif_templates.analysis import analyse_animation, load_analysis, save_analysis
from server.gif_templates.features import COLOUR_STATS, DETAIL
from server.gif_templates.landmarks5 import LANDMARKS5, derive_landmarks5
from server.gif_templates.repair import repair_tracks
from server.gif_templates.tracks import FaceTrack
from server.types import Frame
from server.vision import shape, track_check, track_steady
from server.vision.detail import face_detail
from server.vision.masks import face_colour_stats
from tests.gif_templates.helpers import astronaut, face_points

N, BAD = 16, 8


def _misplaced(lm: np.ndarray) -> np.ndarray:
    """Well formed, but 15% too large and a third of a face to the side."""
    c = lm.mean(0)
    size = float(np.ptp(lm[:, 0]))
    return ((lm - c) * 1.15 + c + np.array([size / 3, -size / 20])).astype(np.float32)


def test_a_face_beside_the_head_is_repaired_in_the_stored_analysis(
    models: DlibFaceModels,
    astronaut_bgr: Frame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clip = astronaut(astronaut_bgr, n=N)
    truth = analyse_animation(clip, models).tracks[0].landmarks
    finish = analysis_module._finish_track

    def dlib_jumps(track: FaceTrack, *args: object) -> dict[str, float]:
        stats = finish(track, *args)  # type: ignore[arg-type]
        track.landmarks[BAD] = _misplaced(track.landmarks[BAD])
        return stats

    monkeypatch.setattr(analysis_module, "_finish_track", dlib_jumps)
    save_analysis(analyse_animation(clip, models), tmp_path / "analysis.npz")
    stored = load_analysis(tmp_path / "analysis.npz")

    track = stored.tracks[0]
    lm = track.landmarks[BAD]
    iod = shape.interocular(truth[BAD])
    assert np.linalg.norm(lm - truth[BAD], axis=1).mean() < 0.05 * iod
    assert track.present.all()
    assert stored.stats["track0_repaired_frames"] == 1 and stored.stats["track0_lost_frames"] == 0
    # the other frames keep their places (the steadying moves them by hundredths of a px)
    others = np.delete(track.landmarks, BAD, 0)
    np.testing.assert_allclose(others, np.delete(truth, BAD, 0), atol=0.1)
    # measured on the repaired landmarks, not the misplaced ones
    frame = clip.frames[BAD]
    np.testing.assert_allclose(track.extras[COLOUR_STATS][BAD], face_colour_stats(frame, lm))
    assert track.extras[DETAIL][BAD] == pytest.approx(face_detail(frame, lm))
    np.testing.assert_array_equal(track.extras[LANDMARKS5][BAD], derive_landmarks5(lm))
    assert np.isnan(track.extras["box"][BAD]).all()


def test_a_frame_that_cannot_be_repaired_becomes_absent_with_its_repeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    n = 14
    marks = np.stack([face_points(100 + i, 100, 60) for i in range(n)])
    boxes = np.tile(np.array([70, 70, 130, 130], np.float32), (n, 1))
    track = FaceTrack(0, marks.copy(), np.ones(n, bool), np.ones(n, bool), {"box": boxes})
    repeats = np.zeros(n, bool)
    repeats[6] = True  # frame 6 holds frame 5's picture
    fixed = face_points(103, 100, 60)

    def check(frames: object, landmarks: np.ndarray) -> tuple[dict[int, np.ndarray], list[int]]:
        np.testing.assert_array_equal(landmarks, marks)
        return {3: fixed}, [5]

    monkeypatch.setattr(track_check, "repair_track", check)
    # the repair's bookkeeping alone (steadying has its own tests)
    monkeypatch.setattr(track_steady, "steady_pose", lambda frames, lm: lm.copy())
    stats = repair_tracks([track], [np.zeros((8, 8, 3), np.uint8)] * n, repeats)

    assert stats == {
        "track0_steadied_px": 0.0,
        "track0_repaired_frames": 1.0,
        "track0_lost_frames": 1.0,
    }
    np.testing.assert_array_equal(track.landmarks[3], fixed)
    assert not track.present[5] and not track.present[6]  # the repeat follows its frame
    assert np.isnan(track.landmarks[[5, 6]]).all()
    np.testing.assert_array_equal(track.detected, track.present)
    assert np.isnan(track.extras["box"][[3, 5]]).all() and np.isfinite(track.extras["box"][6]).all()
    untouched = [i for i in range(n) if i not in (3, 5, 6)]
    np.testing.assert_array_equal(track.landmarks[untouched], marks[untouched])
