"""The face puppet used to make starter templates: edits land where they should."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from server.faces.dlib_models import DlibFaceModels
from server.gif_templates.paint import mouth_opening
from server.gif_templates.puppet import Expression, FacePuppet, HeadPose
from server.types import Frame


@pytest.fixture(scope="module")
def puppet(models: DlibFaceModels, astronaut_bgr: Frame) -> FacePuppet:
    crop = cv2.resize(astronaut_bgr[0:300, 70:370], (240, 240), interpolation=cv2.INTER_AREA)
    still: Frame = np.ascontiguousarray(crop, np.uint8)
    return FacePuppet(still, models.detect(still, use_cnn=False)[0].landmarks)


def _eye_angle(pts: np.ndarray) -> float:
    d = pts[42:48].mean(0) - pts[36:42].mean(0)
    return float(np.degrees(np.arctan2(d[1], d[0])))


def test_neutral_pose_gives_back_the_still(puppet: FacePuppet) -> None:
    frame, pts = puppet.render(Expression(), HeadPose())
    np.testing.assert_allclose(pts, puppet.face, atol=1e-6)
    assert np.abs(frame.astype(int) - puppet.image).mean() < 1.0


def test_open_mouth_is_painted_and_seen_by_dlib(puppet: FacePuppet, models: DlibFaceModels) -> None:
    frame, pts = puppet.render(Expression(mouth_open=1.0), HeadPose())
    iod = puppet.iod
    assert mouth_opening(pts[60:68]) - mouth_opening(puppet.face[60:68]) > 0.3 * iod
    assert np.linalg.norm(pts[51] - puppet.face[51]) < 0.1 * iod  # upper lip stays
    inside = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(pts[60:68]).astype(np.int32)], 1)
    assert frame[inside > 0].mean() < 0.8 * puppet.image[inside > 0].mean()  # dark mouth
    found = models.detect(frame, use_cnn=False)
    assert len(found) == 1
    assert found[0].landmarks[57, 1] - puppet.face[57, 1] > 0.2 * iod  # lower lip went down


def test_blink_closes_the_eyes_and_head_pose_rotates(puppet: FacePuppet) -> None:
    _, closed = puppet.render(Expression(blink=1.0), HeadPose())
    for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
        assert np.linalg.norm(closed[upper] - closed[lower]) < 0.05 * puppet.iod
    _, winked = puppet.render(Expression(wink=1.0), HeadPose())
    assert np.linalg.norm(winked[43] - puppet.face[43]) < 1e-6  # the other eye stays open
    _, tilted = puppet.render(Expression(), HeadPose(angle=10.0))
    assert _eye_angle(tilted) - _eye_angle(puppet.face) == pytest.approx(10.0, abs=0.5)
