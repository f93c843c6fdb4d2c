"""Fixtures for the template tests: one set of dlib models, package-shipped faces."""

from __future__ import annotations

import numpy as np
import pytest

from server.faces.dlib_models import DlibFaceModels
from server.types import Frame


@pytest.fixture(scope="session")
def models() -> DlibFaceModels:
    return DlibFaceModels(cnn_fallback=False)


@pytest.fixture(scope="session")
def astronaut_bgr() -> Frame:
    """skimage's astronaut (Eileen Collins, NASA photo, public domain), BGR 512x512."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])
