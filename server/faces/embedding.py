"""The neural identity: one L2-normalised ArcFace embedding per identity, stored once.

At upload (:func:`add_embedding`), after dlib has accepted every selfie (its errors are
the API's), each selfie's face gets 5 points - SCRFD's when it finds the same face,
else derived from dlib's 68 - an ArcFace embedding from the arcface_112 crop, and the
embeddings are averaged (:func:`average_embedding`).

Identities made before the models were installed have no embedding; the first render
that needs one computes it from the stored aligned texture and its 68 landmarks
(:func:`embedding_from_texture`), and the caller saves it back. ``quality["embedding"]``
records which recogniser file (sha256) made it, so a replaced model is noticed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from server.faces.dlib_models import DlibFaceModels
from server.faces.neural import NeuralFaceModels, average_embedding, detect_points5
from server.types import Embedding, Frame, IdentityData, Landmarks5
from server.vision.shape import landmarks5

EMBEDDING_KEY = "embedding"  # in IdentityData.quality


def selfie_points5(
    image: Frame, lm68: np.ndarray, box: tuple[float, float, float, float], neural: NeuralFaceModels
) -> tuple[Landmarks5, str]:
    """The 5 alignment points of the selfie's face and where they came from
    ("scrfd" or "dlib68")."""
    derived = landmarks5(lm68)
    found = detect_points5(neural.detector, image, box, derived)
    return (found, "scrfd") if found is not None else (derived, "dlib68")


def add_embedding(
    identity: IdentityData,
    images: Sequence[Frame],
    dlib: DlibFaceModels,
    neural: NeuralFaceModels,
) -> IdentityData:
    """``identity`` (built by dlib from ``images``) with its averaged embedding."""
    points, sources = [], []
    for report in identity.selfies:
        image = images[report.index]
        b = report.face_box
        lm68 = dlib.landmarks(image, b)
        p5, source = selfie_points5(image, lm68, (b.left, b.top, b.right, b.bottom), neural)
        points.append(p5)
        sources.append(source)
    raw = neural.embedder.embed([images[r.index] for r in identity.selfies], points)
    info = embedding_info(neural, sources)
    return _with_embedding(identity, average_embedding(raw), info)


def embedding_from_texture(identity: IdentityData, neural: NeuralFaceModels) -> IdentityData:
    """``identity`` with an embedding computed from its stored aligned texture (for
    identities created before the neural models were installed)."""
    p5 = landmarks5(identity.landmarks)
    raw = neural.embedder.embed([identity.texture], [p5])
    return _with_embedding(identity, average_embedding(raw), embedding_info(neural, ["texture"]))


def needs_embedding(identity: IdentityData, neural: NeuralFaceModels) -> bool:
    """True when the identity has no embedding, or one made by another recogniser file."""
    if identity.embedding is None:
        return True
    info = identity.quality.get(EMBEDDING_KEY)
    made_by = info.get("sha256") if isinstance(info, dict) else None
    return made_by is not None and made_by != neural.model.get("sha256")


def embedding_info(neural: NeuralFaceModels, keypoints: list[str]) -> dict[str, Any]:
    """What is stored beside the embedding: the recogniser and the 5-point source of
    each selfie ("scrfd", "dlib68", or "texture" for a lazily computed one)."""
    return {
        "model": neural.model.get("name"),
        "sha256": neural.model.get("sha256"),
        "keypoints": list(keypoints),
    }


def _with_embedding(
    identity: IdentityData, embedding: Embedding, info: dict[str, Any]
) -> IdentityData:
    quality = {**identity.quality, EMBEDDING_KEY: info}
    return dataclasses.replace(identity, embedding=embedding, quality=quality)
