"""Neural identities: ArcFace embeddings from SCRFD or dlib 5 points, averaged over
selfies; lazily computed from the stored texture; dlib stays in charge of errors."""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
from insightface.utils import face_align

from server.faces.embedding import (
    EMBEDDING_KEY,
    add_embedding,
    embedding_from_texture,
    needs_embedding,
    selfie_points5,
)
from server.faces.identity import build_identity
from server.faces.keypoints import match_keypoints
from server.faces.neural import ARCFACE_112, NeuralFaceModels, average_embedding, normalise
from server.types import Frame
from server.vision.shape import landmarks5


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_average_embedding_weighs_every_selfie_alike() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 512))
    got = average_embedding(np.stack([a * 10.0, b * 0.1]))
    np.testing.assert_allclose(got, unit(unit(a) + unit(b)), atol=1e-6)
    assert got.dtype == np.float32 and abs(np.linalg.norm(got) - 1) < 1e-6
    np.testing.assert_allclose(average_embedding(a[None]), unit(a), atol=1e-6)
    assert not normalise(np.zeros(4)).any()


def test_arcface_crop_equals_insightface(neural_faces: NeuralFaceModels, face_bgr: Frame) -> None:
    kps = np.array([[200, 180], [280, 178], [240, 230], [210, 270], [270, 268]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # scikit-image, inside insightface
        theirs = face_align.norm_crop(face_bgr, kps, 112)
    ours = neural_faces.embedder.align(face_bgr, kps)
    diff = np.abs(ours.astype(int) - theirs.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.05  # float64 vs float32 matrix
    np.testing.assert_allclose(neural_faces.embedder.template, ARCFACE_112)


def test_selfie_embedding_from_dlib_points_when_scrfd_finds_nothing(
    neural_faces: NeuralFaceModels, dlib_models: Any, face_bgr: Frame
) -> None:
    shifted = np.ascontiguousarray(np.roll(face_bgr, (-20, 30), axis=(0, 1)))
    identity = build_identity([face_bgr, shifted], dlib_models)
    assert identity.embedding is None
    done = add_embedding(identity, [face_bgr, shifted], dlib_models, neural_faces)
    info = done.quality[EMBEDDING_KEY]
    assert info["keypoints"] == ["dlib68", "dlib68"]  # the synthetic SCRFD sees no faces
    assert info["model"] == "w600k_r50" and info["sha256"] == neural_faces.model["sha256"]
    raws = []
    for image, report in zip([face_bgr, shifted], identity.selfies, strict=True):
        lm = dlib_models.landmarks(image, report.face_box)
        raws.append(neural_faces.embedder.embed([image], [landmarks5(lm)])[0])
    np.testing.assert_allclose(done.embedding, unit(unit(raws[0]) + unit(raws[1])), atol=1e-5)
    assert identity.texture is done.texture and not needs_embedding(done, neural_faces)


class FakeDetector:
    def __init__(self, boxes: np.ndarray, kps: np.ndarray, fail: bool = False) -> None:
        self.boxes, self.kps, self.fail = boxes, kps, fail

    def __call__(self, image: Frame) -> tuple[np.ndarray, np.ndarray]:
        if self.fail:
            raise RuntimeError("onnxruntime exploded")
        return self.boxes, self.kps


def test_selfie_points_prefer_a_matching_scrfd_face(
    neural_faces: NeuralFaceModels, dlib_models: Any, face_bgr: Frame, caplog: Any
) -> None:
    face = dlib_models.detect(face_bgr)[0]
    box = (face.box.left, face.box.top, face.box.right, face.box.bottom)
    derived = landmarks5(face.landmarks)
    nudged = derived + np.float32(2.0)
    big = np.array([[box[0] - 10, box[1] - 25, box[2] + 10, box[3] + 5]], np.float32)
    far = big + 200
    cases = [
        (FakeDetector(np.concatenate([far, big]), np.stack([nudged + 200, nudged])), "scrfd"),
        (FakeDetector(far, (nudged + 200)[None]), "dlib68"),  # no overlap
        (FakeDetector(big, (derived + 60)[None]), "dlib68"),  # overlaps, disagrees
        (FakeDetector(big, nudged[None], fail=True), "dlib68"),  # raises
    ]
    for detector, source in cases:
        models = replace(neural_faces, detector=detector)  # type: ignore[arg-type]
        with caplog.at_level(logging.WARNING):
            points, got = selfie_points5(face_bgr, face.landmarks, box, models)
        assert got == source
        np.testing.assert_allclose(points, nudged if source == "scrfd" else derived)
    assert "SCRFD failed" in caplog.text


def test_synthetic_scrfd_face_is_matched(neural_faces: NeuralFaceModels) -> None:
    """The real detector path: a planted white square is one SCRFD face."""
    image = np.zeros((480, 640, 3), np.uint8)
    image[96:128, 192:224] = 255
    assert neural_faces.detector is not None
    boxes, kps = neural_faces.detector(image)
    assert boxes.shape == (1, 4) and kps.shape == (1, 5, 2)
    reference = kps[0] + np.float32(3.0)
    box = tuple(float(v) for v in boxes[0] + np.array([4, 8, -4, -2]))
    np.testing.assert_allclose(match_keypoints(box, reference, boxes, kps), kps[0])  # type: ignore[arg-type]


def test_lazy_embedding_from_the_stored_texture(
    neural_faces: NeuralFaceModels, dlib_models: Any, face_bgr: Frame
) -> None:
    identity = build_identity([face_bgr], dlib_models)
    assert needs_embedding(identity, neural_faces)
    done = embedding_from_texture(identity, neural_faces)
    p5 = landmarks5(identity.landmarks)
    raw = neural_faces.embedder.embed([identity.texture], [p5])[0]
    np.testing.assert_allclose(done.embedding, unit(raw), atol=1e-6)
    assert done.quality[EMBEDDING_KEY]["keypoints"] == ["texture"]
    other = replace(neural_faces, model={**neural_faces.model, "sha256": "0" * 64})
    assert needs_embedding(done, other)  # another recogniser file: recompute
