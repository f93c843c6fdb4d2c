"""Shared fixtures: package-shipped faces (no downloads) and image encoding."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from server.types import Box, Frame, IdentityData, SelfieReport

_INSIGHTFACE_IMAGES = "insightface/data/images"


def encode_image(frame_bgr: Frame, fmt: str = "JPEG", **save_args: object) -> bytes:
    """Encode a BGR frame with Pillow (``fmt``: JPEG, PNG, WEBP, GIF, BMP...)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame_bgr[:, :, ::-1])).save(buf, fmt, **save_args)
    return buf.getvalue()


def package_image(name: str) -> Frame:
    """A BGR image shipped inside the insightface package (e.g. ``t1.jpg``)."""
    import insightface

    path = Path(insightface.__file__).parent / "data" / "images" / name
    image = cv2.imread(str(path))
    if image is None:
        pytest.skip(f"{_INSIGHTFACE_IMAGES}/{name} is not installed")
    return image


@pytest.fixture(scope="session")
def face_bgr() -> Frame:
    """skimage's astronaut (Eileen Collins, NASA, public domain): one clear face, BGR."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


def synthetic_identity(seed: int = 1) -> IdentityData:
    """A storable IdentityData made of random arrays (no face detection involved)."""
    rng = np.random.default_rng(seed)
    report = SelfieReport(0, 64, 64, Box(1, 2, 30, 40), "hog", 0.5, 0.9, 120, 0.8, True)
    return IdentityData(
        texture=rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
        landmarks=rng.random((68, 2), dtype=np.float32),
        descriptors=rng.random((1, 128), dtype=np.float32),
        descriptor=rng.random(128, dtype=np.float32),
        selfies=[report],
        quality={"score": 0.8},
    )


@pytest.fixture(scope="session")
def dead_owner() -> str:
    """Owner token (see server.storage.procinfo) of a child process that has exited."""
    code = "from server.storage.procinfo import process_token; print(process_token())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()
