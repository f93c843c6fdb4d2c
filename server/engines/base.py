"""What every swap engine and every motion engine offers the render pipeline.

An engine prepares an identity once per render, plans each template face track once
per render, then swaps faces frame by frame. It never reads settings, paths or the
environment: sessions and options come through its constructor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from server.types import Box, Frame, IdentityData, Landmarks68, MotionData, MotionFormat


@dataclass(frozen=True)
class SwapResult:
    """Where a swap may have changed the frame: a box and the covered pixels in it."""

    box: Box
    mask: NDArray[np.bool_]


class SwapEngine(Protocol):
    name: str

    def prepare_identity(self, identity: IdentityData) -> Any: ...

    def plan_track(
        self,
        face: Any,
        landmarks: NDArray[np.float32],
        frames: Sequence[Frame],
        landmarks5: NDArray[np.float32] | None = None,
        features: Mapping[str, NDArray[np.floating]] | None = None,
    ) -> Any:
        """``landmarks``: (N, 68, 2) of one template track, NaN where absent;
        ``landmarks5``: (N, 5, 2) its stored 5-point landmarks (None: derive them);
        ``features``: precomputed per-frame face statistics of the template
        (``colour_stats`` (N, 2, 3), ``detail`` (N,)); engines compute what is missing."""
        ...

    def swap(
        self, frame: Frame, index: int, landmarks: NDArray[np.float32], face: Any, plan: Any
    ) -> SwapResult | None:
        """Swap in place; None when the frame was left unchanged."""
        ...

    def describe(self) -> dict[str, Any]:
        """Name, version and models, recorded with every render."""
        ...


class MotionEngine(Protocol):
    """Animates one portrait with a motion template's motion (relative to its frame 0).

    ``portrait``: the identity's head-and-shoulders picture (BGR uint8); ``landmarks``:
    its 68 landmarks (engines that find their own keypoints may ignore them). Returns
    ``motion.frame_count`` frames at the portrait's size; timing and loop are the
    motion's. ``motion_formats`` names the :class:`MotionData` formats it can play."""

    name: str
    motion_formats: tuple[MotionFormat, ...]

    def animate(
        self,
        portrait: Frame,
        landmarks: Landmarks68 | None,
        motion: MotionData,
        progress: Callable[[float], None] | None = None,
    ) -> list[Frame]: ...

    def describe(self) -> dict[str, Any]:
        """Name, version and models, recorded with every render."""
        ...
