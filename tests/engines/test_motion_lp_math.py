"""LivePortrait's keypoint maths: rotation convention and relative motion."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from server.engines.motion_lp_data import LivePortraitMotion
from server.engines.motion_lp_math import (
    KeypointInfo,
    relative_keypoints,
    rotation_matrix,
    source_keypoints,
    transform_keypoints,
)

RNG = np.random.default_rng(3)
KP = RNG.uniform(-0.5, 0.5, (21, 3)).astype(np.float32)
EXP = (0.05 * RNG.standard_normal((21, 3))).astype(np.float32)


def _source(pitch: float = 0.0, yaw: float = 0.0, roll: float = 0.0, exp=EXP) -> KeypointInfo:
    t = np.array([0.03, -0.02, 0.4], np.float32)
    return KeypointInfo(KP, rotation_matrix(pitch, yaw, roll), exp, t, 1.3)


def _motion(angles, scales=None, shifts=None, exps=None) -> LivePortraitMotion:
    n = len(angles)
    return LivePortraitMotion(
        fps=25.0,
        scale=np.asarray(scales if scales is not None else [1.7] * n, np.float32),
        R=np.stack([rotation_matrix(*a) for a in angles]),
        exp=np.asarray(exps if exps is not None else np.zeros((n, 21, 3)), np.float32),
        t=np.asarray(shifts if shifts is not None else np.zeros((n, 3)), np.float32),
    )


@pytest.mark.parametrize("angles", [(10, 0, 0), (0, 25, 0), (0, 0, -15), (12, -30, 7)])
def test_rotation_is_livePortraits_transposed_xyz_euler(angles):
    expected = Rotation.from_euler("xyz", angles, degrees=True).as_matrix().T
    np.testing.assert_allclose(rotation_matrix(*angles), expected, atol=1e-6)


def test_transform_applies_only_tx_ty():
    t = np.array([0.1, 0.2, 5.0], np.float32)
    out = transform_keypoints(KP, np.eye(3, dtype=np.float32), np.zeros_like(KP), t, 2.0)
    np.testing.assert_allclose(out, 2.0 * KP + [0.1, 0.2, 0.0], atol=1e-6)


def test_motion_equal_to_its_first_frame_reproduces_the_source():
    source = _source(8, -20, 3)
    motion = _motion(
        [(5, 10, -2)] * 3,
        scales=[1.6] * 3,
        shifts=[[0.2, 0.1, 0.3]] * 3,
        exps=np.repeat(EXP[None] * 3, 3, axis=0),
    )
    for i in range(3):
        np.testing.assert_allclose(
            relative_keypoints(source, motion, i), source_keypoints(source), atol=1e-5
        )


def test_a_driving_yaw_rotates_a_frontal_source_by_the_same_relative_rotation():
    zero = np.zeros_like(EXP)
    source = KeypointInfo(KP, rotation_matrix(0, 0, 0), zero, np.zeros(3, np.float32), 1.0)
    motion = _motion([(0, 10, 0), (0, 25, 0)])  # the clip turns its head by 15 degrees
    driven = relative_keypoints(source, motion, 1)
    np.testing.assert_allclose(driven, KP @ rotation_matrix(0, 15, 0), atol=1e-5)
    yaw = np.degrees(np.arctan2(driven[:, 0], driven[:, 2]) - np.arctan2(KP[:, 0], KP[:, 2]))
    assert np.allclose(np.abs((yaw + 180) % 360 - 180), 15.0, atol=1e-3)


def test_relative_rotation_applies_before_the_sources_own_pose():
    source = _source(5, 30, -4)
    motion = _motion([(2, -5, 1), (12, 20, 6)])
    relative = motion.R[1] @ motion.R[0].T
    expected = transform_keypoints(KP, relative @ source.R, EXP, source.t, source.scale)
    np.testing.assert_allclose(relative_keypoints(source, motion, 1), expected, atol=1e-5)


def test_expression_scale_and_translation_are_relative_to_frame_zero():
    source = _source()
    exps = np.zeros((2, 21, 3), np.float32)
    exps[0, 4] = [0.5, 0.5, 0.5]  # the clip's neutral face, whatever it is, cancels out
    exps[1, 4] = [0.5, 0.6, 0.5]
    motion = _motion(
        [(0, 0, 0)] * 2, scales=[2.0, 2.2], shifts=[[1, 1, 1], [1.1, 0.9, 3]], exps=exps
    )
    expected_exp = EXP.copy()
    expected_exp[4] += [0.0, 0.1, 0.0]
    expected = transform_keypoints(
        KP, source.R, expected_exp, source.t + np.array([0.1, -0.1, 0.0]), source.scale * 1.1
    )
    np.testing.assert_allclose(relative_keypoints(source, motion, 1), expected, atol=1e-5)


def test_keypoint_info_checks_shapes():
    with pytest.raises(ValueError, match="kp"):
        KeypointInfo(KP[:20], np.eye(3, dtype=np.float32), EXP, np.zeros(3, np.float32), 1.0)
