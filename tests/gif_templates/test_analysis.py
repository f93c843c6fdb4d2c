"""Template analysis on a real (public-domain) face, and its storage."""

from __future__ import annotations

import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from server.faces.dlib_models import DlibFaceModels
from server.gif_templates.analysis import (
    ANALYSIS_VERSION,
    AnalysisError,
    analyse_animation,
    load_analysis,
    save_analysis,
)
from server.types import Animation, Frame
from tests.gif_templates.helpers import astronaut, plain_clip


def test_face_tracked_through_a_covered_frame(models: DlibFaceModels, astronaut_bgr: Frame) -> None:
    clip = astronaut(astronaut_bgr, n=10, hide=4)
    seen: list[float] = []
    result = analyse_animation(clip, models, progress=seen.append, source_sha256="abc")

    assert result.version == ANALYSIS_VERSION and result.source_sha256 == "abc"
    assert (result.width, result.height, result.frame_count) == (220, 220, 10)
    assert len(result.tracks) == 1 and result.main_track is result.tracks[0]
    track = result.tracks[0]
    assert track.present.all()  # the covered frame is filled from its neighbours
    assert track.detected.sum() == 9 and not track.detected[4]
    assert 40 < track.face_size < 90
    nose = track.landmarks[:, 30]
    assert np.all(np.linalg.norm(np.diff(nose, axis=0), axis=1) < 6)  # no jumps
    assert seen[-1] == 1.0 and seen == sorted(seen)
    assert len(result.faces_at(4)) == 1


def test_weak_false_positive_on_the_suit_is_dropped(
    models: DlibFaceModels, astronaut_bgr: Frame
) -> None:
    # At 512 px dlib also fires (score ~0.12) on the suit's collar in every frame.
    frames = [np.ascontiguousarray(np.roll(astronaut_bgr, 3 * i, axis=1)) for i in range(6)]
    result = analyse_animation(Animation(frames, [100] * 6, 0), models)
    assert result.stats["raw_tracks"] >= 2
    assert len(result.tracks) == 1
    assert result.tracks[0].landmarks[0, 30, 1] < 200  # the face, not the suit


def test_no_face_gives_no_tracks(models: DlibFaceModels) -> None:
    result = analyse_animation(plain_clip(), models)
    assert result.tracks == [] and result.main_track is None


def test_save_load_round_trip_without_pickles(
    tmp_path: Path, models: DlibFaceModels, astronaut_bgr: Frame
) -> None:
    result = analyse_animation(astronaut(astronaut_bgr, n=6), models, source_sha256="f00d")
    result.tracks[0].extras["lab_mean"] = np.arange(18, dtype=np.float32).reshape(6, 3)
    path = tmp_path / "analysis.npz"
    save_analysis(result, path)
    back = load_analysis(path)

    for name in ("version", "source_sha256", "width", "height", "durations_ms", "loop"):
        assert getattr(back, name) == getattr(result, name)
    assert back.stats == pytest.approx({k: v for k, v in result.stats.items() if k != "seconds"})
    for a, b in zip(result.tracks, back.tracks, strict=True):
        assert a.track_id == b.track_id
        np.testing.assert_array_equal(a.landmarks, b.landmarks)
        np.testing.assert_array_equal(a.present, b.present)
        np.testing.assert_array_equal(a.detected, b.detected)
        assert a.extras.keys() == b.extras.keys()
        for key in a.extras:
            np.testing.assert_array_equal(a.extras[key], b.extras[key])
    with np.load(path, allow_pickle=False) as data:  # an object array would raise here
        assert all(not data[name].dtype.hasobject for name in data.files)
        with zipfile.ZipFile(path) as zf:
            assert len(data.files) == len(zf.namelist())


def test_malformed_analysis_is_an_analysis_error(tmp_path: Path) -> None:
    bad = tmp_path / "analysis.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(AnalysisError):
        load_analysis(bad)
    np.savez_compressed(bad, meta=np.array('{"version": 1}'))
    with pytest.raises(AnalysisError):
        load_analysis(bad)


def test_a_still_image_is_a_one_frame_template(
    models: DlibFaceModels, astronaut_bgr: Frame
) -> None:
    result = analyse_animation(Animation([astronaut_bgr], [100], 0), models)
    assert result.frame_count == 1 and len(result.tracks) == 1
    assert result.tracks[0].present.tolist() == [True]


def test_two_faces_main_first_and_stats_per_final_track(
    models: DlibFaceModels, astronaut_bgr: Frame
) -> None:
    small = cv2.resize(astronaut(astronaut_bgr, n=1).frames[0], (130, 130))
    big = astronaut(astronaut_bgr, n=6)
    frames = []
    for frame in big.frames:
        canvas = np.full((220, 360, 3), 90, np.uint8)
        canvas[:, :220] = frame
        canvas[40:170, 225:355] = small  # a smaller second face on the right
        frames.append(canvas)
    result = analyse_animation(Animation(frames, big.durations_ms, 0), models)
    assert [t.track_id for t in result.tracks] == [0, 1]
    assert result.tracks[0].face_size > result.tracks[1].face_size
    assert result.tracks[1].landmarks[0, 30, 0] > 220  # the small face is on the right
    for tid in (0, 1):
        assert result.stats[f"track{tid}_jitter_smooth"] <= result.stats[f"track{tid}_jitter_raw"]
