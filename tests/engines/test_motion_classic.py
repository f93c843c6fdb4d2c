"""The classic animator on a real face, checked by dlib on its output frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from server.engines.motion_classic import ClassicMotionEngine
from server.faces.dlib_models import DlibFaceModels
from server.faces.portrait import head_and_shoulders
from server.gif_templates.motion import as_complex, as_points, face_frame
from server.gif_templates.puppet import Expression
from server.gif_templates.retarget import blinks, portrait_rig, retarget
from server.types import Frame, Landmarks68, MotionData
from tests.render.samples import astronaut, dlib_models
from tools.selfie_variants import posed

ROLL_DEG = 8.0


@pytest.fixture(scope="module")
def models() -> DlibFaceModels:
    return dlib_models()


@pytest.fixture(scope="module")
def portrait(models: DlibFaceModels) -> tuple[Frame, Landmarks68]:
    image = astronaut()
    return head_and_shoulders(image, models.detect(image, use_cnn=False)[0].landmarks)


def synthetic_motion(rest: Landmarks68) -> MotionData:
    """Frame 0 at rest, then the head rolls, the mouth opens wide, the eyes close."""
    origin, axis = face_frame(rest)
    shape0 = (as_complex(rest) - origin) / axis
    shapes, poses = [], []
    for t in np.linspace(0.0, 1.0, 6):
        z = shape0.copy()
        z[[56, 57, 58, 65, 66, 67]] += 0.45j * t  # lower lip drops
        z[[7, 8, 9]] += 0.35j * t  # the chin follows
        for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
            z[upper] += (z[lower] - z[upper]) * 0.9 * t
        shapes.append(as_points(z))
        poses.append([0.05 * t, 0.0, 0.0, np.radians(ROLL_DEG) * t])
    return MotionData(
        "landmarks",
        (80,) * 6,
        0,
        shape=np.asarray(shapes, np.float32),
        pose=np.asarray(poses, np.float32),
    )


def _roll(points: np.ndarray) -> float:
    d = points[42:48].mean(0) - points[36:42].mean(0)
    return float(np.degrees(np.arctan2(d[1], d[0])))


def test_frames_follow_the_motion(
    portrait: tuple[Frame, Landmarks68], models: DlibFaceModels
) -> None:
    image, rest = portrait
    motion = synthetic_motion(rest)
    frames = ClassicMotionEngine().animate(image, rest, motion)
    assert len(frames) == 6 and all(f.shape == image.shape for f in frames)
    # Frame 0 is the portrait, its smile's lips closed: above the nose it is unchanged.
    nose = int(np.asarray(rest)[33, 1])
    assert np.abs(frames[0][:nose].astype(int) - image[:nose]).mean() < 1.0
    first = models.detect(frames[0], use_cnn=False)[0].landmarks
    last = models.detect(frames[-1], use_cnn=False)[0].landmarks
    assert _roll(last) - _roll(first) == pytest.approx(ROLL_DEG, abs=2.0)
    iod = float(np.linalg.norm(first[42:48].mean(0) - first[36:42].mean(0)))
    gap = np.linalg.norm(last[[66, 65, 67]] - last[[62, 63, 61]], axis=1).mean()
    gap0 = np.linalg.norm(first[[66, 65, 67]] - first[[62, 63, 61]], axis=1).mean()
    assert gap - gap0 > 0.15 * iod  # the mouth opened
    lids = np.linalg.norm(last[[41, 40, 47, 46]] - last[[37, 38, 43, 44]], axis=1).mean()
    lids0 = np.linalg.norm(first[[41, 40, 47, 46]] - first[[37, 38, 43, 44]], axis=1).mean()
    assert lids < 0.6 * lids0  # the eyes closed
    h, w = image.shape[:2]
    b = int(0.08 * min(h, w))
    edge = np.ones((h, w), bool)
    edge[b:-b, b:-b] = False
    grey = [f.mean(2) for f in frames]
    assert max(np.abs(g - grey[0])[edge].mean() for g in grey) <= 3.0


def test_the_opened_mouth_is_dark_inside(portrait: tuple[Frame, Landmarks68]) -> None:
    image, rest = portrait
    motion = synthetic_motion(rest)
    engine = ClassicMotionEngine()
    frames = engine.animate(image, rest, motion)
    points, _, blink = retarget(portrait_rig(image, rest)[1], motion, 5)
    assert min(blink) > 0.8
    inner = np.round(points[60:68]).astype(np.int32)
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [inner], 1)
    inside = frames[-1][mask > 0].astype(float).mean(axis=1)
    # A dark gap fills at least a quarter of it (the rest: teeth, in the picture's tone).
    assert np.percentile(inside, 25) < 0.5 * image.astype(float).mean()
    with pytest.raises(ValueError, match="landmarks"):
        engine.animate(image, None, motion)
    lp = MotionData("liveportrait", (40,))
    with pytest.raises(ValueError, match="liveportrait"):
        engine.animate(image, rest, lp)


def weak_blink(rest: Landmarks68, frames: int = 9, shut: tuple[int, ...] = (4, 5)) -> MotionData:
    """Still frames with a blink as dlib reads one off a clip: the lids come only half
    way together, for two frames (160 ms)."""
    origin, axis = face_frame(rest)
    shape0 = (as_complex(rest) - origin) / axis
    shapes = []
    for i in range(frames):
        z = shape0.copy()
        if i in shut:
            for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
                z[upper] += (z[lower] - z[upper]) * 0.5
        shapes.append(as_points(z))
    return MotionData(
        "landmarks", (80,) * frames, 0, shape=np.asarray(shapes, np.float32),
        pose=np.zeros((frames, 4), np.float32),
    )  # fmt: skip


def eye_aspect(points: np.ndarray) -> float:
    """dlib's eye aspect ratio (EAR), both eyes' mean."""
    p = np.asarray(points, np.float64)
    ears = []
    for a in (36, 42):
        q = p[a : a + 6]
        lids = np.linalg.norm(q[1] - q[5]) + np.linalg.norm(q[2] - q[4])
        ears.append(lids / (2 * np.linalg.norm(q[0] - q[3])))
    return float(np.mean(ears))


def test_a_blink_read_half_way_shuts_the_eyes(
    portrait: tuple[Frame, Landmarks68], models: DlibFaceModels
) -> None:
    image, rest = portrait
    motion = weak_blink(rest)
    assert blinks(motion)[[4, 5]].min() == 1.0 and blinks(motion)[[0, 1, 8]].max() == 0.0
    frames = ClassicMotionEngine().animate(image, rest, motion)
    ears = [eye_aspect(models.detect(f, use_cnn=False)[0].landmarks) for f in frames]
    assert max(ears[4], ears[5]) < 0.6 * ears[0]  # dlib sees the output's eyes shut
    # the eyelid's skin covers the eye: its dark iris and white are gone
    eye = np.zeros(image.shape[:2], np.uint8)
    for a in (36, 42):
        cv2.fillPoly(eye, [np.round(np.asarray(rest)[a : a + 6]).astype(np.int32)], 1)
    grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)[eye > 0].astype(float) for f in frames]
    assert grey[4].std() < 0.6 * grey[0].std()
    assert abs(ears[8] - ears[0]) < 0.03  # and open again after


def inner_lip_gap(points: np.ndarray) -> float:
    """dlib's inner-lip gap over the inter-ocular distance."""
    p = np.asarray(points, np.float64)
    iod = np.linalg.norm(p[42:48].mean(0) - p[36:42].mean(0))
    return float(np.linalg.norm(p[[66, 65, 67]] - p[[62, 63, 61]], axis=1).mean() / iod)


@pytest.fixture(scope="module")
def open_mouth(models: DlibFaceModels) -> tuple[Frame, Landmarks68]:
    """The astronaut's portrait with her mouth opened wide (teeth and a dark gap)."""
    image = astronaut()
    opened = posed(Expression(mouth_open=1.0))(
        image, models.detect(image, use_cnn=False)[0].landmarks
    )
    portrait, rest = head_and_shoulders(opened, models.detect(opened, use_cnn=False)[0].landmarks)
    assert inner_lip_gap(rest) > 0.3
    return portrait, rest


def still_clip(rest: Landmarks68, frames: int = 4) -> MotionData:
    """A clip whose face keeps its mouth closed while the head drifts and rolls a little."""
    face = np.asarray(rest, np.float64).copy()
    face[[65, 66, 67]] = face[[63, 62, 61]]  # the clip's lips are shut
    t = np.linspace(0.0, 1.0, frames)
    poses = np.stack([0.04 * t, 0.02 * t, 0 * t, np.radians(4.0) * t], 1)
    return MotionData(
        "landmarks", (80,) * frames, 0, shape=np.repeat(face[None], frames, 0).astype(np.float32),
        pose=poses.astype(np.float32),
    )  # fmt: skip


def test_an_open_mouthed_selfie_closes_its_mouth_with_the_clip(
    open_mouth: tuple[Frame, Landmarks68], models: DlibFaceModels
) -> None:
    """The clip drives the expression: a selfie's open mouth is closed at rest, its
    teeth covered, and opens only when the clip's does."""
    image, rest = open_mouth
    frames = ClassicMotionEngine().animate(image, rest, still_clip(rest))
    gaps = [inner_lip_gap(models.detect(f, use_cnn=False)[0].landmarks) for f in frames]
    assert max(gaps) < 0.08  # dlib reads the output's mouth closed in every frame
    mouth = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mouth, [np.round(np.asarray(rest)[60:68]).astype(np.int32)], 1)
    grey = [
        cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)[mouth > 0].astype(float) for f in (image, frames[0])
    ]
    # No dark gap where it was: the darkest twentieth of what was the open mouth is now
    # at least twice as light as its darkest quarter was (lips and skin, 31-60 -> 100+).
    assert np.percentile(grey[1], 5) > 2 * np.percentile(grey[0], 25)
    opening = ClassicMotionEngine().animate(image, rest, synthetic_motion(rest))
    first, last = (models.detect(opening[i], use_cnn=False)[0].landmarks for i in (0, -1))
    assert inner_lip_gap(first) < 0.08 and inner_lip_gap(last) > 0.2  # the clip opens it


def test_a_dark_portrait_is_animated_lifted_and_a_fair_one_as_it_is(
    portrait: tuple[Frame, Landmarks68], models: DlibFaceModels
) -> None:
    """A portrait taken in the dark (a third of the exposure, sensor noise) moves as a
    well-exposed photo: dlib finds its face in every frame, as light and as quiet as the
    fair one's; the fair one's frames are those of the animator alone."""
    from server.gif_templates.retarget import animate_portrait
    from server.vision import exposure
    from tools.hard_set import underexposed

    image, rest = portrait
    clip = still_clip(rest)
    fair = ClassicMotionEngine().animate(image, rest, clip)
    alone = animate_portrait(image, rest, clip)
    assert all(np.array_equal(a, b) for a, b in zip(fair, alone, strict=True))
    dark = underexposed(image, rest)
    lifted = ClassicMotionEngine().animate(dark, rest, clip)
    for frame in lifted:
        lm = models.detect(frame, use_cnn=False)[0].landmarks
        assert exposure.face_lightness(frame, lm) > 0.8 * exposure.face_lightness(image, rest)
        face = np.zeros(frame.shape[:2], bool)
        face[int(lm[19, 1]) : int(lm[8, 1]), int(lm[0, 0]) : int(lm[16, 0])] = True
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        fair_grey = cv2.cvtColor(fair[0], cv2.COLOR_BGR2GRAY)
        assert exposure.noise_level(grey, face) < 2.0 * exposure.noise_level(fair_grey, face)
