"""Fixtures for the neural identity tests: synthetic models and loaded face models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.engines.neural_registry import build_face_models
from server.faces.neural import NeuralFaceModels
from tests.engines.synthetic import loaded_store, write_models


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_models(tmp_path_factory.mktemp("face-models"))


@pytest.fixture(scope="session")
def neural_faces(models_dir: Path) -> NeuralFaceModels:
    faces = build_face_models(loaded_store(models_dir))
    assert faces is not None and faces.detector is not None
    return faces


@pytest.fixture(scope="session")
def dlib_models() -> Any:
    from tests.render.samples import dlib_models as shared

    return shared()
