"""Faces shipped inside installed packages, and clips made from them, for the render,
engine, identity and reface tests (no devkit media, no downloads).

- ``astronaut()``: scikit-image's ``data.astronaut`` (Eileen Collins, NASA photo, public
  domain), one frontal face about 90 px wide in 512x512.
- ``t1_face(name)``: one face of insightface's ``data/images/t1.jpg`` group photo,
  cropped with a margin and upscaled 2x, so it reads like a selfie.
- ``puppet_clip(still)``: the still animated with :mod:`server.gif_templates.puppet`
  (talking and nodding), as the starter templates are made.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from server.faces.dlib_models import DlibFaceModels
from server.gif_templates.analysis import TemplateAnalysis
from server.gif_templates.puppet import Expression, FacePuppet, HeadPose
from server.types import Animation, Box, Frame

# Box centres of two frontal faces in t1.jpg (1280x886), to pick them out of the six.
T1_FACES = {"jennifer": (121.0, 337.0), "david": (504.0, 349.0)}


@functools.cache
def dlib_models() -> DlibFaceModels:
    """One set of dlib models for all these tests, built like the server's (CNN fallback
    included, as identity building uses it)."""
    return DlibFaceModels()


@functools.cache
def astronaut() -> Frame:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


@functools.cache
def insightface_image(name: str) -> Frame:
    """A BGR image from insightface's package data (``t1.jpg``, ``Tom_Hanks_54745.png``)."""
    import insightface

    path = Path(insightface.__file__).parent / "data" / "images" / name
    image = cv2.imread(str(path))
    if image is None:
        pytest.skip(f"insightface/data/images/{name} is not installed")
    return np.ascontiguousarray(image)


@functools.cache
def t1_faces() -> tuple[tuple[Box, ...], Frame]:
    image = insightface_image("t1.jpg")
    faces = dlib_models().detect(image, use_cnn=False, max_side=1280)
    return tuple(f.box for f in faces), image


def t1_face(name: str, margin: float = 0.7, scale: float = 2.0) -> Frame:
    """Face ``name`` of t1.jpg (see ``T1_FACES``) with ``margin`` face widths around it."""
    boxes, image = t1_faces()
    cx, cy = T1_FACES[name]
    box = min(
        boxes, key=lambda b: np.hypot((b.left + b.right) / 2 - cx, (b.top + b.bottom) / 2 - cy)
    )
    return crop_face(image, box, margin, scale)


def tom_hanks(scale: float = 3.0) -> Frame:
    """insightface's 112x112 aligned Tom Hanks crop (greyscale, head turned), upscaled."""
    image = insightface_image("Tom_Hanks_54745.png")
    up = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(up, np.uint8)


def crop_face(image: Frame, box: Box, margin: float, scale: float) -> Frame:
    pad = int(margin * box.width)
    h, w = image.shape[:2]
    crop = image[
        max(0, box.top - pad) : min(h, box.bottom + pad),
        max(0, box.left - pad) : min(w, box.right + pad),
    ]
    up = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(up, np.uint8)


def encode_png(image: Frame, path: Path) -> Path:
    if not cv2.imwrite(str(path), image):
        raise OSError(f"cannot write {path}")
    return path


# -- animated templates from a still ---------------------------------------------------------
def puppet_clip(
    still: Frame,
    side: int = 300,
    frames: int = 24,
    fps: float = 12.0,
    face_width: float = 0.36,
) -> Animation:
    """A talking, nodding clip of the face in ``still``: the face is centred in a
    ``side`` px square at ``face_width`` of its width, then posed frame by frame."""
    models = dlib_models()
    box = models.detect(still, use_cnn=False)[0].box
    k = face_width * side / box.width
    cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    m = np.array([[k, 0.0, side / 2 - cx * k], [0.0, k, 0.42 * side - cy * k]])
    interp = cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC
    placed = cv2.warpAffine(still, m, (side, side), flags=interp, borderMode=cv2.BORDER_REFLECT)
    placed = np.ascontiguousarray(placed, np.uint8)
    puppet = FacePuppet(placed, models.detect(placed, use_cnn=False)[0].landmarks)
    out = []
    for i in range(frames):
        t = i / fps
        mouth = 0.8 * max(0.0, float(np.sin(np.pi * 3.0 * t))) ** 1.5  # three syllables a second
        nod = float(np.sin(2 * np.pi * t))
        expr = Expression(mouth_open=mouth, smile=0.2)
        frame, _ = puppet.render(expr, HeadPose(angle=2.0 * nod, dy=0.08 * nod))
        out.append(np.ascontiguousarray(frame, np.uint8))
    return Animation(out, [round(1000 / fps / 10) * 10] * frames, 0)


@dataclass
class MemoryTemplate:
    """A template held in memory (what ``render`` needs: analysis and frames)."""

    analysis: TemplateAnalysis
    frames: list[Frame]

    def animation(self) -> Animation:
        a = self.analysis
        return Animation([f.copy() for f in self.frames], list(a.durations_ms), a.loop)
