"""Swap engines behind one small protocol (:mod:`.base`), in a closed registry."""

from __future__ import annotations

from server.engines.base import SwapEngine, SwapResult
from server.engines.classic import ClassicEngine
from server.faces.dlib_models import DlibFaceModels

__all__ = ["SwapEngine", "SwapResult", "build_engines"]


def build_engines(models: DlibFaceModels) -> dict[str, SwapEngine]:
    """The engines this process can run, by name; "classic" is always there."""
    del models  # the classic engine works from precomputed landmarks alone
    return {"classic": ClassicEngine()}
