"""Folds of the classic animator's mesh: lids that meet in a blink are not a fold, so a
blink does not draw the rest of the face (an opening mouth, a turning head) back."""

from __future__ import annotations

import numpy as np
import pytest

from server.faces.portrait import head_and_shoulders
from server.gif_templates.animate import FaceRig
from server.gif_templates.folds import signed_areas
from server.gif_templates.retarget import opened_mouth
from server.types import Frame, Landmarks68
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
