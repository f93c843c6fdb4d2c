"""Assembling the neural motion engine from a loaded :class:`~server.runtime.ModelStore`.

The store has verified, opened and warmed every LivePortrait network (or recorded why
not); this module wires the sessions into :class:`LivePortraitNets` and says why the
engine is unavailable when it is (the API answers 409 ``engine_unavailable`` with that
reason). Nothing here reads settings or the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from server.engines.motion_lp_data import LivePortraitMotion
from server.engines.motion_lp_models import NETWORKS, LivePortraitNets
from server.engines.motion_neural import NeuralMotionEngine, NeuralMotionOptions
from server.engines.neural_registry import missing_models, model_info
from server.runtime import ModelStore
from server.runtime.model_store import one_line
from server.types import Frame, Landmarks68, MotionData, MotionFormat


def as_liveportrait(motion: MotionData) -> LivePortraitMotion:
    """A library motion of format "liveportrait" as the engine's own motion type."""
    parts = (motion.rotation, motion.translation, motion.scale, motion.expression)
    if motion.format != "liveportrait" or any(p is None for p in parts):
        raise ValueError(f"the neural motion engine plays liveportrait motion, not {motion.format}")
    rotation, translation, scale, expression = (np.asarray(p, np.float32) for p in parts)
    mean_ms = float(np.mean(motion.durations_ms)) if motion.durations_ms else 40.0
    return LivePortraitMotion(
        fps=min(120.0, 1000.0 / max(mean_ms, 1.0)),
        scale=scale.reshape(-1),
        R=rotation,
        exp=expression,
        t=translation,
        eyes=motion.eyes,
        lip=motion.lip,
    )


class LivePortraitMotionEngine:
    """:class:`NeuralMotionEngine` behind the service's
    :class:`~server.engines.base.MotionEngine` protocol."""

    name = "neural"
    motion_formats: tuple[MotionFormat, ...] = ("liveportrait",)

    def __init__(self, engine: NeuralMotionEngine) -> None:
        self.engine = engine

    def animate(
        self,
        portrait: Frame,
        landmarks: Landmarks68 | None,
        motion: MotionData,
        progress: Callable[[float], None] | None = None,
    ) -> list[Frame]:
        if landmarks is None:
            raise ValueError("the neural motion engine needs the portrait's landmarks")
        driving = as_liveportrait(motion)
        source = self.engine.source_state(portrait, landmarks)
        out: list[Frame] = []
        for frame in self.engine.frames(source, driving):
            out.append(frame)
            if progress is not None:
                progress(len(out) / driving.frames)
        return out

    def describe(self) -> dict[str, Any]:
        return self.engine.describe()


def wanted_motion_models() -> list[str]:
    """The models a worker loads for the neural motion engine (all four required)."""
    return list(NETWORKS)


@dataclass
class NeuralMotionBuild:
    """The engine, or None with the reason it is unavailable."""

    engine: NeuralMotionEngine | None
    reason: str | None = None


def build_neural_motion(
    store: ModelStore | None, options: NeuralMotionOptions | None = None
) -> NeuralMotionBuild:
    """The neural motion engine when its four networks are available; never raises."""
    if store is None:
        return NeuralMotionBuild(None, "no model store (models directory or manifest missing)")
    missing = missing_models(store, NETWORKS)
    if missing:
        return NeuralMotionBuild(None, missing)
    try:
        nets = LivePortraitNets({n: store.get_session(n) for n in NETWORKS})
        models = [model_info(store, n) for n in NETWORKS]
    except Exception as exc:  # a session that does not fit the wrappers
        return NeuralMotionBuild(None, one_line(exc))
    return NeuralMotionBuild(NeuralMotionEngine(nets, options, models))
