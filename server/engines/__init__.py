"""Swap and motion engines behind small protocols (:mod:`.base`), described once in
:mod:`.registry` (name, template kind, needs, ``auto`` preference).

- swap ``classic``: dlib landmarks only; always there (a fresh machine has no models).
- swap ``neural``: inswapper_128 + w600k_r50 (+ det_10g, optional gfpgan_1.4) from a
  loaded :class:`~server.runtime.ModelStore`; present only when its required models are
  verified and loaded, otherwise listed in ``EngineSet.unavailable`` with the reason.
- motion ``classic``: landmark retargeting and mesh warp (:mod:`.motion_classic`),
  always there; motion ``neural``: LivePortrait's four networks from the model store
  (:mod:`.motion_neural_registry`), otherwise in ``motion_unavailable`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from server.engines.base import MotionEngine, SwapEngine, SwapResult
from server.engines.classic import ClassicEngine
from server.engines.motion_classic import ClassicMotionEngine
from server.engines.registry import ENGINE_NAMES

if TYPE_CHECKING:  # the neural side imports insightface/onnxruntime: only when used
    from server.faces.neural import NeuralFaceModels
    from server.runtime import ModelStore

__all__ = [
    "ENGINE_NAMES",
    "EngineSet",
    "MotionEngine",
    "SwapEngine",
    "SwapResult",
    "build_engines",
    "load_engines",
]


@dataclass
class EngineSet:
    """The engines this process can run, why the others cannot, and the neural face
    models identity creation uses (None without the recogniser)."""

    engines: dict[str, SwapEngine]
    unavailable: dict[str, str] = field(default_factory=dict)
    neural_faces: NeuralFaceModels | None = None
    motion: dict[str, MotionEngine] = field(default_factory=dict)
    motion_unavailable: dict[str, str] = field(default_factory=dict)


NO_STORE = "no model store (models directory or manifest missing)"


def motion_engines(
    model_store: ModelStore | None = None,
) -> tuple[dict[str, MotionEngine], dict[str, str]]:
    """(motion engines by name, unavailable ones -> reason)."""
    engines: dict[str, MotionEngine] = {"classic": ClassicMotionEngine()}
    if model_store is None:
        return engines, {"neural": NO_STORE}
    from server.engines.motion_neural_registry import (
        LivePortraitMotionEngine,
        build_neural_motion,
    )

    built = build_neural_motion(model_store)
    if built.engine is None:
        return engines, {"neural": built.reason or "unavailable"}
    engines["neural"] = LivePortraitMotionEngine(built.engine)
    return engines, {}


def load_engines(
    models: Any,
    model_store: ModelStore | None = None,
    neural_options: Any = None,
    enhancer: bool = False,
) -> EngineSet:
    """Build every engine that can run here (``model_store`` already loaded)."""
    del models  # the classic engine works from precomputed landmarks alone
    engines: dict[str, SwapEngine] = {"classic": ClassicEngine()}
    motion, motion_unavailable = motion_engines(model_store)
    if model_store is None:
        return EngineSet(engines, {"neural": NO_STORE}, None, motion, motion_unavailable)
    from server.engines.neural_registry import build_neural

    built = build_neural(model_store, neural_options, enhancer)
    if built.engine is None:
        reason = {"neural": built.reason or "unavailable"}
        return EngineSet(engines, reason, built.faces, motion, motion_unavailable)
    engines["neural"] = built.engine
    return EngineSet(engines, {}, built.faces, motion, motion_unavailable)


def build_engines(
    models: Any,
    model_store: ModelStore | None = None,
    neural_options: Any = None,
    enhancer: bool = False,
) -> dict[str, SwapEngine]:
    """The engines this process can run, by name; "classic" is always there."""
    return load_engines(models, model_store, neural_options, enhancer).engines
