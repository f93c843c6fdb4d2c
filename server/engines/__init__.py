"""Swap engines behind one small protocol (:mod:`.base`), in a closed registry.

- ``classic``: dlib landmarks only; always there (a fresh machine has no models).
- ``neural``: inswapper_128 + w600k_r50 (+ det_10g, optional gfpgan_1.4) from a loaded
  :class:`~server.runtime.ModelStore`; present only when its required models are
  verified and loaded, otherwise listed in ``EngineSet.unavailable`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from server.engines.base import SwapEngine, SwapResult
from server.engines.classic import ClassicEngine

if TYPE_CHECKING:  # the neural side imports insightface/onnxruntime: only when used
    from server.faces.neural import NeuralFaceModels
    from server.runtime import ModelStore

__all__ = ["EngineSet", "SwapEngine", "SwapResult", "build_engines", "load_engines"]

ENGINE_NAMES = ("classic", "neural")


@dataclass
class EngineSet:
    """The engines this process can run, why the others cannot, and the neural face
    models identity creation uses (None without the recogniser)."""

    engines: dict[str, SwapEngine]
    unavailable: dict[str, str] = field(default_factory=dict)
    neural_faces: NeuralFaceModels | None = None


NO_STORE = "no model store (models directory or manifest missing)"


def load_engines(
    models: Any,
    model_store: ModelStore | None = None,
    neural_options: Any = None,
    enhancer: bool = False,
) -> EngineSet:
    """Build every engine that can run here (``model_store`` already loaded)."""
    del models  # the classic engine works from precomputed landmarks alone
    engines: dict[str, SwapEngine] = {"classic": ClassicEngine()}
    if model_store is None:
        return EngineSet(engines, {"neural": NO_STORE})
    from server.engines.neural_registry import build_neural

    built = build_neural(model_store, neural_options, enhancer)
    if built.engine is None:
        return EngineSet(engines, {"neural": built.reason or "unavailable"}, built.faces)
    engines["neural"] = built.engine
    return EngineSet(engines, {}, built.faces)


def build_engines(
    models: Any,
    model_store: ModelStore | None = None,
    neural_options: Any = None,
    enhancer: bool = False,
) -> dict[str, SwapEngine]:
    """The engines this process can run, by name; "classic" is always there."""
    return load_engines(models, model_store, neural_options, enhancer).engines
