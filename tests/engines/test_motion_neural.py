"""The neural motion engine end to end on generated graphs with LivePortrait's real
signatures (tools.synthetic_motion_models), loaded through the ModelStore."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from server.engines.motion_lp_data import LivePortraitMotion
from server.engines.motion_lp_math import relative_keypoints, rotation_matrix
from server.engines.motion_neural import NeuralMotionEngine, NeuralMotionOptions
from server.engines.motion_neural_registry import build_neural_motion, wanted_motion_models
from server.runtime import ModelStore, load_manifest
from tests.gif_templates.helpers import face_points
from tools.synthetic_motion_models import STITCH_PULL, write_synthetic_motion_models

HEIGHT, WIDTH = 480, 400
CENTRE = (200.0, 210.0)


@pytest.fixture(scope="module")
def lp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("live_portrait")
    write_synthetic_motion_models(out)
    return out


def _store(models_dir: Path) -> ModelStore:
    manifest = load_manifest(models_dir / "manifest.json")
    store = ModelStore(manifest, models_dir, providers="cpu", names=wanted_motion_models())
    store.load()
    return store


@pytest.fixture(scope="module")
def engine(lp_dir: Path) -> NeuralMotionEngine:
    build = build_neural_motion(_store(lp_dir))
    assert build.engine is not None, build.reason
    return build.engine


def _portrait() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    image = rng.integers(40, 90, (HEIGHT, WIDTH, 3), dtype=np.uint8)  # textured background
    cv2.circle(image, (200, 200), 40, (240, 240, 240), -1)  # a bright "face" blob
    return image, face_points(*CENTRE, size=110.0)


def _motion(frames: int, shift_x: float = 0.0) -> LivePortraitMotion:
    t = np.zeros((frames, 3), np.float32)
    t[1:, 0] = shift_x
    return LivePortraitMotion(
        fps=25.0,
        scale=np.full(frames, 1.4, np.float32),
        R=np.repeat(rotation_matrix(3, -4, 1)[None], frames, axis=0),
        exp=np.zeros((frames, 21, 3), np.float32),
        t=t,
    )


def _blob_x(frame: np.ndarray) -> float:
    bright = (frame.min(axis=2) > 150).astype(np.float64)
    return float((bright.sum(axis=0) * np.arange(frame.shape[1])).sum() / bright.sum())


def test_frames_have_the_portraits_size_and_an_unchanged_border(engine):
    portrait, landmarks = _portrait()
    source = engine.source_state(portrait, landmarks)
    frames = engine.animate(source, _motion(4, shift_x=0.2))
    assert len(frames) == 4
    band = round(0.08 * min(HEIGHT, WIDTH))
    ring = np.ones((HEIGHT, WIDTH), bool)
    ring[band:-band, band:-band] = False
    for frame in frames:
        assert frame.shape == portrait.shape and frame.dtype == np.uint8
        np.testing.assert_array_equal(frame[ring], portrait[ring])
    assert np.abs(frames[0].astype(int) - portrait).max() > 0  # the face region is generated


def test_motion_without_change_gives_identical_frames(engine):
    portrait, landmarks = _portrait()
    source = engine.source_state(portrait, landmarks)
    frames = engine.animate(source, _motion(3))
    assert all(np.array_equal(frames[0], f) for f in frames[1:])
    blob = np.abs(_blob_x(frames[0]) - _blob_x(portrait))
    assert blob < 3.0  # the synthetic generator reproduces the crop where nothing moves


def test_a_driving_translation_moves_the_face_the_same_way(engine):
    portrait, landmarks = _portrait()
    source = engine.source_state(portrait, landmarks)
    first, moved = engine.animate(source, _motion(2, shift_x=0.2))
    crop_width = 512 / np.hypot(*source.matrix[:, 0])
    expected = 0.2 * (1 - STITCH_PULL) / 2 * crop_width  # normalised space spans -1..1
    assert _blob_x(moved) - _blob_x(first) == pytest.approx(expected, rel=0.25)


def test_source_state_is_computed_once_from_the_crop(engine):
    portrait, landmarks = _portrait()
    source = engine.source_state(portrait, landmarks)
    assert source.volume.shape == (1, 32, 16, 64, 64)
    assert source.weight.shape == (HEIGHT, WIDTH)
    assert source.keypoints.shape == (21, 3)
    assert source.info.scale == pytest.approx(1.5)  # the synthetic extractor's constant


def test_stitching_corrects_the_relative_keypoints(engine):
    portrait, landmarks = _portrait()
    source = engine.source_state(portrait, landmarks)
    motion = _motion(2, shift_x=0.3)
    relative = relative_keypoints(source.info, motion, 1)
    stitched = engine.driving_keypoints(source, motion, 1)
    expected = relative + STITCH_PULL * (source.keypoints - relative)
    np.testing.assert_allclose(stitched, expected, atol=1e-5)
    plain = NeuralMotionEngine(engine.nets, NeuralMotionOptions(stitching=False, multiplier=0.5))
    half = plain.driving_keypoints(source, motion, 1)
    halfway = source.keypoints + 0.5 * (relative - source.keypoints)
    np.testing.assert_allclose(half, halfway, atol=1e-5)


@pytest.mark.parametrize(
    ("portrait", "landmarks"),
    [
        (np.zeros((64, 64), np.uint8), face_points(32, 32, 20)),
        (np.zeros((64, 64, 3), np.float32), face_points(32, 32, 20)),
        (np.zeros((64, 64, 3), np.uint8), np.full((68, 2), np.nan, np.float32)),
        (np.zeros((64, 64, 3), np.uint8), face_points(32, 32, 20)[:5]),
    ],
)
def test_bad_portraits_are_refused(engine, portrait, landmarks):
    with pytest.raises(ValueError):
        engine.source_state(portrait, landmarks)


def test_describe_names_the_models(engine):
    info = engine.describe()
    assert info["kind"] == "motion" and info["name"] == "neural"
    assert [m["name"] for m in info["models"]] == wanted_motion_models()
    assert all(len(m["sha256"]) == 64 and m["license"] == "synthetic" for m in info["models"])


def test_unavailable_when_a_network_file_is_missing(lp_dir, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(lp_dir, models)
    (models / "live_portrait_generator.onnx").unlink()
    build = build_neural_motion(_store(models))
    assert build.engine is None
    assert build.reason is not None
    assert "live_portrait_generator" in build.reason and "missing" in build.reason


def test_unavailable_without_a_store_or_without_the_models_loaded(lp_dir):
    assert "no model store" in (build_neural_motion(None).reason or "")
    manifest = load_manifest(lp_dir / "manifest.json")
    partial = ModelStore(manifest, lp_dir, providers="cpu", names=["live_portrait_stitcher"])
    partial.load()
    build = build_neural_motion(partial)
    assert build.engine is None and "not loaded by this worker" in (build.reason or "")


def test_the_service_plays_library_motion_through_the_engine(lp_dir: Path) -> None:
    """load_engines puts the LivePortrait engine in the motion set; it plays a
    library MotionData of format "liveportrait" with progress, at the portrait's size."""
    from server.engines import load_engines
    from server.types import MotionData

    built = load_engines(None, _store(lp_dir))
    assert "neural" in built.motion and "neural" not in built.motion_unavailable
    engine = built.motion["neural"]
    assert engine.motion_formats == ("liveportrait",)
    lp = _motion(4, shift_x=0.05)
    motion = MotionData(
        "liveportrait", (40,) * 4, 0, rotation=lp.R, translation=lp.t, scale=lp.scale,
        expression=lp.exp,
    )  # fmt: skip
    portrait, landmarks = _portrait()
    seen: list[float] = []
    frames = engine.animate(portrait, landmarks, motion, seen.append)
    assert len(frames) == 4 and frames[0].shape == portrait.shape
    assert seen[-1] == 1.0 and seen == sorted(seen)
    assert _blob_x(frames[3]) > _blob_x(frames[0]) + 1.0
    with pytest.raises(ValueError, match="liveportrait"):
        engine.animate(portrait, landmarks, MotionData("landmarks", (40,) * 4))


def test_without_a_store_the_neural_motion_engine_is_unavailable() -> None:
    from server.engines import load_engines

    built = load_engines(None, None)
    assert set(built.motion) == {"classic"} and "neural" in built.motion_unavailable
