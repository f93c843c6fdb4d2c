"""LivePortrait's four networks (FaceFusion's ONNX export), around sessions handed in.

Contracts (onnx_models/manifest.json, group ``live_portrait``); outputs are read by
position, as the export's own users do:
- feature extractor: ``input`` (1, 3, 256, 256) RGB 0..1 -> feature volume
  (1, 32, 16, 64, 64);
- motion extractor: ``input`` (same) -> pitch, yaw, roll (degrees), scale, translation
  (3), expression (21, 3), canonical keypoints (21, 3);
- stitcher: ``source``, ``target`` keypoints (1, 21, 3) -> stitched target keypoints;
- generator (warping network and decoder fused): ``feature_volume``, ``source``,
  ``target`` -> (1, 3, 512, 512) RGB 0..1.
Crops in and out of this module are BGR HxWx3 (uint8 in, float32 0..255 out).
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np
from numpy.typing import NDArray

from server.engines.motion_lp_crop import NET_SIZE
from server.engines.motion_lp_data import NUM_KP
from server.engines.motion_lp_math import F32, KeypointInfo, rotation_matrix
from server.runtime import SessionLike, SessionRunner, runner_for
from server.types import Frame

FEATURES = "live_portrait_feature_extractor"
MOTION = "live_portrait_motion_extractor"
GENERATOR = "live_portrait_generator"
STITCHER = "live_portrait_stitcher"
NETWORKS = (FEATURES, MOTION, GENERATOR, STITCHER)
MOTION_OUTPUTS = 7


def net_input(crop: Frame) -> F32:
    """A 512 crop -> the networks' (1, 3, 256, 256) RGB 0..1 input (INTER_AREA)."""
    small = cv2.resize(crop, (NET_SIZE, NET_SIZE), interpolation=cv2.INTER_AREA)
    rgb = small[..., ::-1].transpose(2, 0, 1)[None].astype(np.float32)
    return np.ascontiguousarray(rgb * np.float32(1.0 / 255.0))


def _points(value: NDArray[np.generic]) -> F32:
    return np.asarray(value, np.float32).reshape(1, NUM_KP, 3)


def _scalar(value: NDArray[np.generic]) -> float:
    return float(np.asarray(value, np.float64).reshape(-1)[0])


class LivePortraitNets:
    """The four sessions, each run through a :class:`SessionRunner`."""

    def __init__(self, sessions: Mapping[str, SessionLike]) -> None:
        missing = [name for name in NETWORKS if name not in sessions]
        if missing:
            raise ValueError(f"missing LivePortrait session(s): {', '.join(missing)}")
        if len(sessions[MOTION].get_outputs()) != MOTION_OUTPUTS:
            raise ValueError(f"the motion extractor needs {MOTION_OUTPUTS} outputs")
        self.runners: dict[str, SessionRunner] = {n: runner_for(sessions[n]) for n in NETWORKS}
        self._inputs = {n: [i.name for i in sessions[n].get_inputs()] for n in NETWORKS}

    def _run(self, name: str, *values: NDArray[np.generic]) -> list[NDArray[np.generic]]:
        feeds = dict(zip(self._inputs[name], values, strict=True))
        return self.runners[name].run(feeds)

    def features(self, blob: F32) -> F32:
        """The appearance feature volume of a (1, 3, 256, 256) input."""
        return np.ascontiguousarray(self._run(FEATURES, blob)[0], np.float32)

    def motion(self, blob: F32) -> KeypointInfo:
        """Pose, expression and canonical keypoints of a (1, 3, 256, 256) input."""
        pitch, yaw, roll, scale, shift, expression, points = self._run(MOTION, blob)
        return KeypointInfo(
            kp=_points(points)[0],
            R=rotation_matrix(_scalar(pitch), _scalar(yaw), _scalar(roll)),
            exp=_points(expression)[0],
            t=np.asarray(shift, np.float32).reshape(-1)[:3].copy(),
            scale=_scalar(scale),
        )

    def stitch(self, source: F32, driving: F32) -> F32:
        """Driving keypoints corrected so the animated crop fits the source's shoulders
        and background when pasted back."""
        out = self._run(STITCHER, _points(source), _points(driving))[0]
        return _points(out)[0]

    def generate(self, volume: F32, source: F32, driving: F32) -> F32:
        """The animated 512 crop, BGR float32 0..255."""
        out = self._run(GENERATOR, volume, _points(source), _points(driving))[0][0]
        rgb = np.clip(np.asarray(out, np.float32), 0.0, 1.0).transpose(1, 2, 0)
        return np.ascontiguousarray(rgb[..., ::-1] * np.float32(255.0))

    def describe(self) -> dict[str, bool]:
        return {name: runner.uses_binding for name, runner in self.runners.items()}
