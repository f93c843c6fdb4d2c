"""What every swap engine offers the render pipeline.

An engine prepares an identity once per render, plans each template face track once
per render, then swaps faces frame by frame. It never reads settings, paths or the
environment: sessions and options come through its constructor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from server.types import Box, Frame, IdentityData


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
