"""Classic motion engine (embedded, no models): a clip's landmark motion replayed on
the identity's portrait by :func:`server.gif_templates.retarget.animate_portrait`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from server.gif_templates.retarget import animate_portrait
from server.types import Frame, Landmarks68, MotionData, MotionFormat
from server.vision.exposure import lift_dark

ENGINE_VERSION = 18  # bump when output changes, so identical requests are not reused


class ClassicMotionEngine:
    name = "classic"
    motion_formats: tuple[MotionFormat, ...] = ("landmarks",)

    def animate(
        self,
        portrait: Frame,
        landmarks: Landmarks68 | None,
        motion: MotionData,
        progress: Callable[[float], None] | None = None,
    ) -> list[Frame]:
        if landmarks is None:
            raise ValueError("the classic motion engine needs the portrait's landmarks")
        return animate_portrait(lift_dark(portrait, landmarks), landmarks, motion, progress)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "motion", "version": ENGINE_VERSION, "models": []}
