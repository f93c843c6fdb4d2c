"""Head turns in the classic animator: a clip's yaw is replayed as a rotation of the
portrait's 3-D lifted landmarks (the nose swings, the far cheek hardly moves), never as
a flat smear, and the warped mesh never folds."""

from __future__ import annotations

import numpy as np
import pytest

from server.faces.dlib_models import DlibFaceModels
from server.faces.portrait import head_and_shoulders
from server.gif_templates.animate import FaceRig
from server.gif_templates.folds import signed_areas
from server.gif_templates.lift import DEPTH, MAX_YAW, capped, fit_turn, turned
from server.gif_templates.motion import as_complex, as_points, face_frame
from server.gif_templates.motion_authoring import relative_motion
from server.gif_templates.retarget import opened_mouth, retarget, turn
from server.types import Frame, Landmarks68, MotionData
from tests.render.samples import astronaut, dlib_models

HEAD_AXIS = -1.2  # IOD behind the eyes: a head turns about the neck, not the nose


@pytest.fixture(scope="module")
def models() -> DlibFaceModels:
    return dlib_models()


@pytest.fixture(scope="module")
def portrait(models: DlibFaceModels) -> tuple[Frame, Landmarks68]:
    image = astronaut()
    return head_and_shoulders(image, models.detect(image, use_cnn=False)[0].landmarks)


def turning_clip(rest: Landmarks68, degrees: float, frames: int = 6) -> MotionData:
    """A clip of ``rest``'s face turning to ``degrees`` of yaw about the neck (its 3-D
    lift rotated, projected), stored as motion extraction stores it."""
    origin, axis = face_frame(rest)
    units = (as_complex(rest) - origin) / axis
    pts = []
    for yaw in np.radians(np.linspace(0.0, degrees, frames)):
        z = DEPTH - HEAD_AXIS
        x = units.real * np.cos(yaw) + z * np.sin(yaw)
        pts.append(as_points(origin + axis * (x + 1j * units.imag)))
    shape, pose = relative_motion(np.asarray(pts))
    return MotionData(
        "landmarks", (80,) * frames, 0, shape=shape.astype(np.float32),
        pose=pose.astype(np.float32),
    )  # fmt: skip


def test_the_turn_is_measured_on_the_lift() -> None:
    rest = as_complex(np.asarray(astronaut_points(), np.float64))
    rest = (rest - rest[27:36].mean()) / 60.0
    for yaw, pitch in ((0.2, 0.0), (-0.15, 0.1), (0.0, -0.2)):
        assert fit_turn(rest, turned(rest, DEPTH, yaw, pitch)) == pytest.approx(
            (yaw, pitch), abs=0.02
        )
    assert capped(*fit_turn(rest, turned(rest, DEPTH, 0.8, 0.0)))[0] == pytest.approx(MAX_YAW)


def astronaut_points() -> Landmarks68:
    return dlib_models().detect(astronaut(), use_cnn=False)[0].landmarks


def test_yaw_swings_the_nose_more_than_the_far_cheek(
    portrait: tuple[Frame, Landmarks68], models: DlibFaceModels
) -> None:
    image, rest = portrait
    face = np.asarray(rest, np.float64)
    motion = turning_clip(rest, 20.0)
    assert np.degrees(turn(motion, 5)[0]) == pytest.approx(20.0, abs=4.0)
    points, head, _ = retarget(face, motion, 5)
    moved = points - face
    iod = np.linalg.norm(face[42:48].mean(0) - face[36:42].mean(0))
    nose, far = moved[30, 0], moved[[14, 15, 16], 0].mean()
    assert nose > 0.3 * iod  # the nose swings toward the turn...
    assert nose > 2.5 * abs(far)  # ...much more than the cheek turning away
    near = moved[[0, 1, 2], 0].mean()
    assert far < near  # the far side narrows: a rotation, not a shift
    # dlib on the rendered frame sees the same, independently of the animator's points.
    rig = FaceRig(image, face, opened_mouth(face))
    frame = rig.render(points, head, (0.0, 0.0), turn(motion, 5))
    seen = models.detect(frame, use_cnn=False)[0].landmarks - face
    assert seen[30, 0] > 2.0 * abs(seen[[14, 15, 16], 0].mean())


@pytest.mark.parametrize("degrees", [30.0, -30.0, -45.0])
def test_the_mesh_never_folds(portrait: tuple[Frame, Landmarks68], degrees: float) -> None:
    """Up to a 30 degree turn the capped rotation alone keeps every triangle the right
    way round; beyond it the render draws the mesh back just enough, keeping most of
    the turn."""
    image, rest = portrait
    face = np.asarray(rest, np.float64)
    rig = FaceRig(image, face, opened_mouth(face))
    motion = turning_clip(rest, degrees)
    checked = rig.tris[rig.checked]
    before = signed_areas(rig.src, checked)
    for i in range(motion.frame_count):
        points, head, _ = retarget(face, motion, i)
        raw = rig.mesh(points, head, turn(motion, i), unfold=False)
        drawn = rig.mesh(points, head, turn(motion, i))
        assert np.all(signed_areas(drawn, checked) * before > 0)
        if abs(degrees) <= 30:
            np.testing.assert_array_equal(drawn, raw)
        swing = np.linalg.norm(raw[30] - face[30])
        assert np.linalg.norm(drawn[30] - face[30]) >= 0.6 * swing
