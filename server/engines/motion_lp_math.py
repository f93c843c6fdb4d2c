"""LivePortrait's implicit-keypoint maths (paper Eqn. 2 and the relative motion of its
image-animation pipeline), in numpy.

Conventions (LivePortrait's): keypoints are row vectors (21, 3) in the network's
normalised space; a rotation acts as ``kp @ R`` with ``R = (Rz Ry Rx)^T`` built from
pitch (about x), yaw (about y) and roll (about z) in degrees; only tx, ty of a
translation are applied (tz is zeroed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from server.engines.motion_lp_data import NUM_KP, LivePortraitMotion

F32 = NDArray[np.float32]


def rotation_matrix(pitch: float, yaw: float, roll: float) -> F32:
    """LivePortrait's rotation for angles in degrees: (Rz @ Ry @ Rx)^T."""
    x, y, z = np.radians([pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return np.ascontiguousarray((rz @ ry @ rx).T, np.float32)


@dataclass(frozen=True)
class KeypointInfo:
    """What the motion extractor says about one image: canonical keypoints ``kp`` (21, 3),
    rotation ``R`` (3, 3), expression ``exp`` (21, 3), translation ``t`` (3,), ``scale``."""

    kp: F32
    R: F32
    exp: F32
    t: F32
    scale: float

    def __post_init__(self) -> None:
        shapes = {"kp": (NUM_KP, 3), "R": (3, 3), "exp": (NUM_KP, 3), "t": (3,)}
        for name, shape in shapes.items():
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(
                    f"{name} must have shape {shape}, got {np.shape(getattr(self, name))}"
                )


def transform_keypoints(kp: F32, R: F32, exp: F32, t: F32, scale: float) -> F32:
    """x = scale * (kp @ R + exp) + t, with only t's x and y applied."""
    moved = np.float32(scale) * (np.asarray(kp, np.float32) @ R + exp)
    moved[:, :2] += np.asarray(t, np.float32)[:2]
    return moved.astype(np.float32)


def source_keypoints(info: KeypointInfo) -> F32:
    """The source image's own implicit keypoints x_s."""
    return transform_keypoints(info.kp, info.R, info.exp, info.t, info.scale)


def relative_keypoints(source: KeypointInfo, motion: LivePortraitMotion, index: int) -> F32:
    """Driving keypoints for frame ``index``: the motion relative to the clip's frame 0
    applied to the source (R = R_d,i R_d,0^T R_s; exp = exp_s + exp_d,i - exp_d,0;
    scale = scale_s scale_d,i / scale_d,0; t = t_s + t_d,i - t_d,0 with tz = 0)."""
    rotation = motion.R[index] @ motion.R[0].T @ source.R
    expression = source.exp + (motion.exp[index] - motion.exp[0])
    scale = source.scale * float(motion.scale[index]) / float(motion.scale[0])
    shift = source.t + (motion.t[index] - motion.t[0])
    shift = np.array([shift[0], shift[1], 0.0], np.float32)
    return transform_keypoints(source.kp, rotation, expression, shift, scale)
