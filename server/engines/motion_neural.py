"""The neural motion engine: LivePortrait's networks animate a still portrait with the
motion of a clip (relative to the clip's first frame), one 512 crop per frame pasted
back into the portrait.

Per portrait (once): the crop from the landmarks, its appearance feature volume and its
implicit keypoints (``source_state``). Per frame: the driving keypoints from the
relative motion, the stitcher's correction, the generator's 512 crop and the
paste-back with a feathered mask. The engine receives its networks in the constructor
and never reads settings, paths or the environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.engines.motion_lp_crop import (
    MaskShape,
    crop,
    crop_matrix,
    paste_back,
    paste_mask,
)
from server.engines.motion_lp_data import LivePortraitMotion
from server.engines.motion_lp_math import (
    F32,
    KeypointInfo,
    relative_keypoints,
    source_keypoints,
)
from server.engines.motion_lp_models import LivePortraitNets, net_input
from server.types import Affine, Frame, Landmarks68

ENGINE_VERSION = 1  # bump when output changes, so identical requests are not reused


@dataclass(frozen=True)
class NeuralMotionOptions:
    """``stitching``: LivePortrait's stitcher keeps the crop's edges on the portrait
    (its default, on); ``multiplier``: LivePortrait's driving multiplier, the share of
    the motion applied (1 = all of it); ``mask``: the paste-back mask."""

    stitching: bool = True
    multiplier: float = 1.0
    mask: MaskShape = field(default_factory=MaskShape)


@dataclass(frozen=True)
class MotionSource:
    """A portrait prepared for animation (computed once per portrait): the portrait,
    its crop matrix, paste weight (H, W), feature volume and keypoints."""

    portrait: Frame
    matrix: Affine
    weight: NDArray[np.float32]
    volume: F32
    info: KeypointInfo
    keypoints: F32


def _check_portrait(portrait: Frame, landmarks: Landmarks68) -> None:
    if portrait.dtype != np.uint8 or portrait.ndim != 3 or portrait.shape[2] != 3:
        raise ValueError("the portrait must be an HxWx3 uint8 BGR image")
    points = np.asarray(landmarks)
    if points.shape != (68, 2) or not np.all(np.isfinite(points)):
        raise ValueError("the portrait needs 68 finite (x, y) landmarks")


class NeuralMotionEngine:
    """Animates portraits with LivePortrait motion; see the module docstring."""

    name = "neural"
    kind = "motion"

    def __init__(
        self,
        nets: LivePortraitNets,
        options: NeuralMotionOptions | None = None,
        models: list[dict[str, Any]] | None = None,
    ) -> None:
        self.nets = nets
        self.options = options or NeuralMotionOptions()
        self.models = list(models or [])

    def source_state(self, portrait: Frame, landmarks: Landmarks68) -> MotionSource:
        """Crop, feature volume and keypoints of a BGR portrait with 68 landmarks."""
        _check_portrait(portrait, landmarks)
        matrix = crop_matrix(landmarks)
        blob = net_input(crop(portrait, matrix))
        info = self.nets.motion(blob)
        return MotionSource(
            portrait=portrait,
            matrix=matrix,
            weight=paste_mask(portrait.shape, matrix, self.options.mask),
            volume=self.nets.features(blob),
            info=info,
            keypoints=source_keypoints(info),
        )

    def driving_keypoints(
        self, source: MotionSource, motion: LivePortraitMotion, index: int
    ) -> F32:
        """Keypoints of frame ``index``: relative motion, stitching, multiplier."""
        driving = relative_keypoints(source.info, motion, index)
        if self.options.stitching:
            driving = self.nets.stitch(source.keypoints, driving)
        if self.options.multiplier != 1.0:
            shift = (driving - source.keypoints) * np.float32(self.options.multiplier)
            driving = source.keypoints + shift
        return driving.astype(np.float32)

    def frame(self, source: MotionSource, motion: LivePortraitMotion, index: int) -> Frame:
        """One animated frame at the portrait's size."""
        driving = self.driving_keypoints(source, motion, index)
        generated = self.nets.generate(source.volume, source.keypoints, driving)
        return paste_back(source.portrait, generated, source.matrix, source.weight)

    def frames(self, source: MotionSource, motion: LivePortraitMotion) -> Iterator[Frame]:
        """The animation, frame by frame (one frame in memory at a time)."""
        for index in range(motion.frames):
            yield self.frame(source, motion, index)

    def animate(self, source: MotionSource, motion: LivePortraitMotion) -> list[Frame]:
        """Every frame of the animation, each the portrait's size (BGR uint8)."""
        return list(self.frames(source, motion))

    def describe(self) -> dict[str, Any]:
        """Name, version, options and models, recorded with every render."""
        return {
            "name": self.name,
            "kind": self.kind,
            "version": ENGINE_VERSION,
            "stitching": self.options.stitching,
            "multiplier": self.options.multiplier,
            "io_binding": self.nets.describe(),
            "models": self.models,
        }
