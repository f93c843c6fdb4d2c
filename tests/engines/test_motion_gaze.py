"""A motion clip's eye movements: read when its motion is extracted, replayed on the
animated portrait (checked by dlib's points and the gaze reader on the output)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from server.engines.motion_classic import ClassicMotionEngine
from server.faces.portrait import head_and_shoulders
from server.gif_templates.clip_eyes import clip_gaze, clip_seen_shut
from server.gif_templates.features import IRIS, SEEN_SHUT
from server.gif_templates.motion import (
    MotionError,
    as_complex,
    as_points,
    check_motion,
    face_frame,
    load_motion,
    save_motion,
)
from server.gif_templates.occluders import GLASSES
from server.gif_templates.retarget import blinks
from server.gif_templates.tracks import FaceTrack
from server.types import Frame, Landmarks68, MotionData
from server.vision import gaze
from tests.gif_templates.test_blinks import lids_clip
from tests.render.samples import astronaut, dlib_models


@pytest.fixture(scope="module")
def portrait() -> tuple[Frame, Landmarks68]:
    """The astronaut's head and shoulders from her photo at twice its size: eyes about
    30 px wide (at 17 px they keep their irises, see eyeball.SMALLEST_EYE)."""
    image = cv2.resize(astronaut(), None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    return head_and_shoulders(image, dlib_models().detect(image, use_cnn=False)[0].landmarks)


def _track(reads: np.ndarray, shut: np.ndarray | None = None) -> FaceTrack:
    n = len(reads)
    extras = {IRIS: reads.astype(np.float32)}
    if shut is not None:
        extras[SEEN_SHUT] = shut.astype(np.float32)
    marks = np.zeros((n, 68, 2), np.float32)
    return FaceTrack(0, marks, np.ones(n, bool), np.ones(n, bool), extras)


def test_the_clip_gaze_comes_from_its_reads_held_through_a_blink() -> None:
    """Frame 3 blinks (its read, 0.9, is a lid's misread) and frame 5 reads shut in the
    picture, its landmarks open (its read, 0.1, too): both are held from their
    neighbours."""
    closing = [(0.0, 0.0)] * 8
    closing[3] = (0.6, 0.6)
    u = np.array([0.5, 0.5, 0.3, 0.9, 0.3, 0.1, 0.7, 0.7])
    seen = np.zeros((8, 2))
    seen[5] = 1.0
    track = _track(np.stack([u, u], 1), seen)
    motion = dataclasses.replace(lids_clip(closing), seen_shut=clip_seen_shut(track, 8))
    found = clip_gaze(track, motion)
    assert found is not None and found.shape == (8, 2)
    assert found[3, 0] == pytest.approx(0.3, abs=0.01)
    assert 0.3 <= found[5, 0] <= 0.7
    assert found[7, 1] == pytest.approx(0.7, abs=0.01)
    assert clip_gaze(_track(np.full((8, 2), np.nan)), motion) is None  # eyes never read
    no_reads = _track(np.stack([u, u], 1))
    no_reads.extras.pop(IRIS)
    assert clip_gaze(no_reads, motion) is None  # an analysis from before the reads


def test_a_wink_the_picture_shows_shuts_the_eye() -> None:
    """A wink dlib keeps open (the clip's lids never move) but the picture shows shut:
    the motion shuts that eye in those frames, the other stays open; not behind glasses,
    whose frames make the picture's read unsure."""
    seen = np.zeros((6, 2))
    seen[2:4, 0] = 1.0
    track = _track(np.full((6, 2), 0.5), seen)
    motion = dataclasses.replace(lids_clip([(0.0, 0.0)] * 6), seen_shut=clip_seen_shut(track, 6))
    shut = blinks(motion)
    assert shut[2:4, 0].min() == 1.0 and shut[:, 1].max() == 0.0
    assert shut[[0, 1, 4, 5]].max() == 0.0
    assert blinks(lids_clip([(0.0, 0.0)] * 6)).max() == 0.0  # the control: by the points
    track.extras[GLASSES] = np.full(6, 0.9, np.float32)
    assert clip_seen_shut(track, 6) is None


def test_a_motion_keeps_its_gaze_on_disk(tmp_path: Path) -> None:
    motion = lids_clip([(0.0, 0.0)] * 4)
    looking = dataclasses.replace(motion, gaze=np.full((4, 2), 0.4, np.float32))
    save_motion(looking, tmp_path / "looking.npz")
    save_motion(motion, tmp_path / "plain.npz")
    back = load_motion(tmp_path / "looking.npz")
    assert back.gaze is not None and np.array_equal(back.gaze, looking.gaze)
    assert load_motion(tmp_path / "plain.npz").gaze is None
    with pytest.raises(MotionError):
        check_motion(dataclasses.replace(motion, gaze=np.full((3, 2), 0.4, np.float32)))
    with pytest.raises(MotionError):
        check_motion(dataclasses.replace(motion, gaze=np.full((4, 2), np.nan, np.float32)))


def _still(rest: Landmarks68, looks: list[float] | None) -> MotionData:
    """Frames of a face at rest; its irises at ``looks`` (None: three, no gaze)."""
    origin, axis = face_frame(rest)
    shape0 = as_points((as_complex(rest) - origin) / axis)
    n = 3 if looks is None else len(looks)
    wanted = None if looks is None else np.repeat(np.array(looks, np.float32)[:, None], 2, 1)
    return MotionData(
        "landmarks", (80,) * n, 0, shape=np.repeat(shape0[None], n, 0).astype(np.float32),
        pose=np.zeros((n, 4), np.float32), gaze=wanted,
    )  # fmt: skip


def _read(frame: Frame) -> float:
    found = dlib_models().detect(frame, use_cnn=False)[0].landmarks
    light = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return float(
        np.mean([gaze.read_iris(light, found[e]).across for e in (slice(36, 42), slice(42, 48))])
    )


@pytest.mark.parametrize("follow", [True, False])
def test_the_portrait_looks_where_the_clip_looks(
    portrait: tuple[Frame, Landmarks68], follow: bool
) -> None:
    """The clip looks ahead, then to the image-left, then to the image-right: the
    portrait's irises move the same way from where they were (its own gaze at the
    clip's start); without the clip's gaze (the control) they stay."""
    image, marks = portrait
    motion = _still(marks, [0.5, 0.3, 0.7] if follow else None)
    frames = ClassicMotionEngine().animate(image, marks, motion)
    start, left, right = (_read(f) for f in frames)
    if follow:
        assert left < start - 0.1 and right > start + 0.1, (start, left, right)
    else:
        assert abs(left - start) < 0.05 and abs(right - start) < 0.05, (start, left, right)


def test_a_blurred_portrait_keeps_its_irises(
    portrait: tuple[Frame, Landmarks68], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A portrait selfie coaching reads as blurry (here its sharpness given) keeps its
    irises: a crisp opening with a flat white would be cut into the soft face. (A blur
    strong enough to read so also leaves the astronaut's irises too faint to split.)"""
    from server.gif_templates import portrait_eyes

    image, marks = portrait
    motion = _still(marks, [0.5, 0.3, 0.7])
    for sharpness, moves in ((portrait_eyes.BLUR - 0.01, False), (portrait_eyes.BLUR + 0.01, True)):
        monkeypatch.setattr(portrait_eyes, "sharpness", lambda *_, s=sharpness: s)
        frames = ClassicMotionEngine().animate(image, marks, motion)
        assert (not np.array_equal(frames[1], frames[0])) == moves
