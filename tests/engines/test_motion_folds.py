"""Folds of the classic animator's mesh: lids that meet in a blink are not a fold, so a
blink does not draw the rest of the face (an opening mouth, a turning head) back."""

from __future__ import annotations

import numpy as np
import pytest

from server.faces.portrait import head_and_shoulders
from server.gif_templates.animate import RING_HEIGHT, RING_ROOM, RING_WIDTH, FaceRig
from server.gif_templates.folds import signed_areas, slivers
from server.gif_templates.retarget import opened_mouth, posed, retarget, turn
from server.types import Frame, Landmarks68
from tests.engines.test_motion_turn import turning_clip
from tests.render.samples import astronaut, dlib_models

STILL = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
_LIDS = ((37, 41), (38, 40), (43, 47), (44, 46))  # (upper, lower)


@pytest.fixture(scope="module")
def rig() -> FaceRig:
    image, marks = portrait()
    face = np.asarray(marks, np.float64)
    return FaceRig(image, face, opened_mouth(face))


def portrait() -> tuple[Frame, Landmarks68]:
    image = astronaut()
    return head_and_shoulders(image, dlib_models().detect(image, use_cnn=False)[0].landmarks)


def iod(face: np.ndarray) -> float:
    return float(np.linalg.norm(face[42:48].mean(0) - face[36:42].mean(0)))


def test_a_blink_with_an_open_mouth_keeps_the_mouth_open(rig: FaceRig) -> None:
    face = rig.face.copy()
    target = face.copy()
    for upper, lower in _LIDS:  # both eyes shut: the lids meet, as the retargeting does
        target[upper] = target[lower] = (face[upper] + face[lower]) / 2
    target[[56, 57, 58, 65, 66, 67]] += (0.0, 0.2 * iod(face))  # and the mouth opens
    drawn = rig.mesh(target, STILL)
    np.testing.assert_allclose(drawn[:68], rig.keep_inside(target), atol=1e-9)
    checked = rig.tris[rig.checked]
    assert np.all(signed_areas(drawn, checked) * signed_areas(rig.src, checked) > 0)


def test_lids_that_cross_are_still_a_fold(rig: FaceRig) -> None:
    """Only the eye's own triangles are left out: an upper lid pushed below the lower
    one drags the brow-to-lid triangles over and is drawn back."""
    face = rig.face.copy()
    target = face.copy()
    target[[37, 38]] += (0.0, 0.6 * iod(face))  # far below the lower lid and the cheek
    drawn = rig.mesh(target, STILL)
    checked = rig.tris[rig.checked]
    assert np.all(signed_areas(drawn, checked) * signed_areas(rig.src, checked) > 0)
    assert np.linalg.norm(drawn[37] - target[37]) > 0.05 * iod(face)


def wide_cheek(face: np.ndarray, extra: float) -> np.ndarray:
    """``face`` with its image-right jaw line pushed out by ``extra`` IOD at the cheek
    (less toward chin and temple): the near cheek of a three-quarter portrait."""
    out = face.copy()
    u = (face[45] - face[36]) / np.linalg.norm(face[45] - face[36])
    for k, j in enumerate(range(9, 17)):
        out[j] += u * extra * iod(face) * np.sin(np.pi * (k + 1) / 9)
    return out


def test_the_ring_goes_round_a_wide_cheek() -> None:
    image, marks = portrait()
    face = wide_cheek(np.asarray(marks, np.float64), 0.6)
    rig = FaceRig(image, face, opened_mouth(face))
    left, right = rig._ring_widths()
    assert left == pytest.approx(RING_WIDTH)  # the other side keeps the usual ring
    assert right > RING_WIDTH + 0.3
    # Every jaw point has RING_ROOM to the ring at its height.
    rel = (face[:17] - rig.centre) / rig.iod
    x, y = rel @ rig.u, rel @ rig.v
    a = np.where(x < 0, left, right)
    assert np.all(np.abs(x) + RING_ROOM <= a * np.sqrt(1 - (y / RING_HEIGHT) ** 2) + 1e-9)


def test_a_wide_cheek_moving_out_does_not_fold() -> None:
    """The near cheek of a turned portrait widens with a grin: inside the ring, the
    mesh takes it as asked (a ring through the cheek folded and drew it all back)."""
    image, marks = portrait()
    face = wide_cheek(np.asarray(marks, np.float64), 0.6)
    rig = FaceRig(image, face, opened_mouth(face))
    target = wide_cheek(face, 0.25)
    target[[56, 57, 58, 65, 66, 67]] += (0.0, 0.15 * iod(face))
    drawn = rig.mesh(target, STILL)
    np.testing.assert_allclose(drawn[:68], rig.keep_inside(target), atol=1e-9)


def test_the_turn_gives_way_before_the_expression() -> None:
    """A turn beyond what the warp can show: the head turns less, the mouth still
    opens in full (the whole mesh drawn back would have shut it part of the way)."""
    image, marks = portrait()
    face = np.asarray(marks, np.float64)
    rig = FaceRig(image, face, opened_mouth(face))
    motion = turning_clip(marks, 45.0)
    assert motion.shape is not None
    opening = 0.15 * float(np.linalg.norm(motion.shape[0][45] - motion.shape[0][36]))
    motion.shape[:, [56, 57, 58, 65, 66, 67], 1] += opening  # the mouth opens as it turns
    last = motion.frame_count - 1
    full, head, _ = retarget(face, motion, last)
    assert rig.would_fold(full, head, turn(motion, last))
    points, head, _, turning = posed(rig, face, motion, last)
    share = turning[0] / turn(motion, last)[0]
    assert 0.3 < share < 1.0
    assert not rig.would_fold(points, head, turning)
    drawn = rig.mesh(points, head, turning)
    np.testing.assert_allclose(drawn[:68], rig.keep_inside(points), atol=1e-9)  # in full
    assert np.linalg.norm(drawn[66] - drawn[62]) > 0.1 * iod(face)


def test_a_sliver_in_the_rest_pose_does_not_freeze_the_face() -> None:
    """dlib can put a lip's outer point in line with the inner ones (a mouth showing its
    teeth): the triangle between them is a sliver at rest, and turns over with any
    sub-pixel move of the lips. Counted as a fold, every frame was drawn back to the
    rest pose; left out, the brows rise as asked."""
    image, marks = portrait()
    face = np.asarray(marks, np.float64)
    rig = FaceRig(image, face, opened_mouth(face))
    lip = next(t for t in rig.checked if set(rig.tris[t].tolist()) == {58, 59, 67})
    rest = face.copy()
    across = (rest[67] - rest[58]) @ np.array([[0.0, -1.0], [1.0, 0.0]])
    across /= np.linalg.norm(across)
    side = np.sign((rest[59] - rest[58]) @ across)
    rest[59] = (rest[58] + rest[67]) / 2 + 0.05 * side * across  # in line, same side
    rig.set_rest(rest)
    assert slivers(rig.base, rig.tris[[lip]])[0] and lip not in rig.checked
    target = rest.copy()
    target[59] -= 0.5 * side * across  # half a pixel over the line
    target[17:27, 1] -= 0.15 * iod(face)  # and the brows rise
    drawn = rig.mesh(target, STILL)
    np.testing.assert_allclose(drawn[17:27], target[17:27], atol=1e-9)
