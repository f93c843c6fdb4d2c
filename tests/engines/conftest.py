"""Neural engine fixtures: synthetic model directories (made once per session), a
six-frame astronaut template analysed by the real analysis, and an identity with a
synthetic ArcFace embedding."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from server.gif_templates.analysis import TemplateAnalysis, analyse_animation
from server.types import Animation, Frame, IdentityData
from tests.engines.synthetic import write_models


@dataclass
class Template:
    """What the pipeline needs of a catalog entry."""

    frames: list[Frame]
    analysis: TemplateAnalysis

    def animation(self) -> Animation:
        return Animation(list(self.frames), list(self.analysis.durations_ms), self.analysis.loop)


@pytest.fixture(scope="session")
def dlib_models() -> Any:
    from tests.render.samples import dlib_models as shared

    return shared()


@pytest.fixture(scope="session")
def astro(face_bgr: Frame, dlib_models: Any) -> Template:
    """Six 256x256 frames of the astronaut's face drifting a few pixels."""
    frames = []
    for i, dy in enumerate([0, 3, 6, 3, 0, -3]):
        y, x = 20 + dy, 90 + i
        frames.append(np.ascontiguousarray(face_bgr[y : y + 256, x : x + 256]))
    anim = Animation(frames, [60, 100, 60, 100, 60, 100])
    analysis = analyse_animation(anim, dlib_models)
    assert analysis.tracks and analysis.tracks[0].present.all()
    return Template(frames, analysis)


def _models(factory: pytest.TempPathFactory, name: str, **kwargs: Any) -> Path:
    return write_models(factory.mktemp(name), **kwargs)


@pytest.fixture(scope="session")
def identity_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _models(tmp_path_factory, "identity", swapper="identity")


@pytest.fixture(scope="session")
def mixing_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _models(tmp_path_factory, "mixing", swapper="mixing")


@pytest.fixture(scope="session")
def batched_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _models(tmp_path_factory, "batched", swapper="mixing", batched=True)


@pytest.fixture(scope="session")
def selfie_identity(face_bgr: Frame, dlib_models: Any) -> IdentityData:
    """The astronaut as an identity (dlib), with a random unit embedding."""
    from server.faces.identity import build_identity

    identity = build_identity([face_bgr], dlib_models)
    rng = np.random.default_rng(7)
    vector = rng.standard_normal(512).astype(np.float32)
    identity.embedding = vector / np.linalg.norm(vector)
    return identity
