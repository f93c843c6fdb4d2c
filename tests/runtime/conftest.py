"""Synthetic models (generated once per session) and per-test copies to damage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from server.runtime.manifest import Manifest, load_manifest
from tools.synthetic_models import PRODUCTION_MANIFEST, write_synthetic_models


@pytest.fixture(scope="session")
def production_manifest() -> Manifest:
    return load_manifest(PRODUCTION_MANIFEST)


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic graphs + manifest; read-only by convention (copy before changing)."""
    out = tmp_path_factory.mktemp("synthetic")
    write_synthetic_models(out, swapper="mixing")
    return out


@pytest.fixture
def models_dir(synthetic_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the synthetic models that a test may corrupt or delete."""
    target = tmp_path / "models"
    shutil.copytree(synthetic_dir, target)
    return target


@pytest.fixture
def synthetic_manifest(models_dir: Path) -> Manifest:
    return load_manifest(models_dir / "manifest.json")
