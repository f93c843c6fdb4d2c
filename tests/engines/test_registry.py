"""The engine registry: one description per engine, ``auto`` by preference."""

from __future__ import annotations

from typing import get_args

import pytest

from server.engines import load_engines
from server.engines.registry import (
    CHOICES,
    ENGINE_NAMES,
    ENGINES,
    EngineUnavailable,
    auto_order,
    resolve,
    spec,
)
from server.settings import EngineChoice
from server.types import IdentityData


def test_names_and_choices_agree_with_settings() -> None:
    assert set(get_args(EngineChoice)) == set(CHOICES)
    assert ENGINE_NAMES == ("neural", "classic")
    fields = set(IdentityData.__dataclass_fields__)
    for s in ENGINES:
        assert set(s.needs) <= fields, s
        assert (s.kind == "motion") == bool(s.motion_formats)
    assert len({(s.name, s.kind) for s in ENGINES}) == len(ENGINES)


def test_auto_prefers_neural_then_classic() -> None:
    assert auto_order("swap") == ["neural", "classic"] == auto_order("motion")
    assert resolve("auto", "swap", {"classic": 1, "neural": 2}) == "neural"
    assert resolve("auto", "swap", {"classic": 1}) == "classic"
    assert resolve("auto", "motion", {"classic": 1}, motion_format="landmarks") == "classic"
    # landmark motion is the classic animator's even when neural motion is loaded
    both = {"classic": 1, "neural": 2}
    assert resolve("auto", "motion", both, motion_format="landmarks") == "classic"
    assert resolve("auto", "motion", both, motion_format="liveportrait") == "neural"


def test_refusals_say_why() -> None:
    with pytest.raises(EngineUnavailable, match="not available: no models"):
        resolve("neural", "swap", {"classic": 1}, {"neural": "no models"})
    with pytest.raises(EngineUnavailable, match=r"cannot play .* liveportrait"):
        resolve("classic", "motion", {"classic": 1}, motion_format="liveportrait")
    with pytest.raises(EngineUnavailable, match="not available"):
        resolve("auto", "motion", {"classic": 1}, motion_format="liveportrait")
    with pytest.raises(EngineUnavailable, match="does not render"):
        resolve("magic", "swap", {"classic": 1})
    assert spec("classic", "motion") is not None and spec("magic", "swap") is None


def test_loaded_engines_cover_both_kinds() -> None:
    built = load_engines(None)
    assert set(built.engines) == {"classic"} and set(built.motion) == {"classic"}
    assert "neural" in built.unavailable and "neural" in built.motion_unavailable
    assert built.motion["classic"].motion_formats == spec("classic", "motion").motion_formats  # type: ignore[union-attr]
