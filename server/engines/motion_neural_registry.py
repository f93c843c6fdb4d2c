"""Assembling the neural motion engine from a loaded :class:`~server.runtime.ModelStore`.

The store has verified, opened and warmed every LivePortrait network (or recorded why
not); this module wires the sessions into :class:`LivePortraitNets` and says why the
engine is unavailable when it is (the API answers 409 ``engine_unavailable`` with that
reason). Nothing here reads settings or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.engines.motion_lp_models import NETWORKS, LivePortraitNets
from server.engines.motion_neural import NeuralMotionEngine, NeuralMotionOptions
from server.engines.neural_registry import model_info
from server.runtime import ModelStore


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
    missing = [n for n in NETWORKS if not (n in store.names and store.is_available(n))]
    if missing:
        reasons = "; ".join(f"{n}: {_reason(store, n)}" for n in missing)
        return NeuralMotionBuild(None, f"required model(s) unavailable: {reasons}")
    try:
        nets = LivePortraitNets({n: store.get_session(n) for n in NETWORKS})
        models = [model_info(store, n) for n in NETWORKS]
    except Exception as exc:  # a session that does not fit the wrappers
        lines = str(exc).strip().splitlines()
        return NeuralMotionBuild(None, f"{type(exc).__name__}: {lines[0] if lines else ''}")
    return NeuralMotionBuild(NeuralMotionEngine(nets, options, models))


def _reason(store: ModelStore, name: str) -> str:
    if name not in store.names:
        return "not loaded by this worker"
    return store.model_status(name).reason or "unavailable"
