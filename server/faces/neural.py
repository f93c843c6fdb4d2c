"""Neural face models on sessions from the runtime: SCRFD 5-point keypoints and ArcFace
embeddings (insightface's classes, constructed with our sessions so insightface opens
none of its own and downloads nothing).

dlib stays the source of truth for *whether* an image has a usable face; these models
only place the 5 alignment points better (SCRFD) and describe the identity the way the
inswapper expects (ArcFace w600k_r50).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from insightface.model_zoo.arcface_onnx import ArcFaceONNX
from insightface.model_zoo.scrfd import SCRFD
from numpy.typing import NDArray

from server.faces.keypoints import Box4, match_keypoints
from server.runtime import SessionLike
from server.types import Embedding, Frame, Landmarks5
from server.vision.shape import similarity

log = logging.getLogger(__name__)

ARCFACE_SIZE = 112
# insightface's arcface_dst (the manifest's arcface_112); the registry passes the
# manifest's copy, this default serves callers without a manifest.
ARCFACE_112 = (
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
)
DETECTION_SIZE = (640, 640)  # SCRFD input (width, height); images are letterboxed into it


class FivePointDetector:
    """SCRFD (det_10g) on a given session; calling it returns (boxes (K, 4)
    left/top/right/bottom, keypoints (K, 5, 2)), most confident first."""

    def __init__(
        self,
        model_file: Path | str,
        session: SessionLike,
        input_size: tuple[int, int] = DETECTION_SIZE,
        threshold: float = 0.5,
    ) -> None:
        # static_shape_sessions=False: insightface would otherwise build extra sessions
        # per input size, outside the runtime (and its provider checks).
        self._scrfd = SCRFD(
            model_file=str(model_file), session=session, static_shape_sessions=False
        )
        self._scrfd.det_thresh = threshold
        self.input_size = input_size

    def __call__(self, image: Frame) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        det, kps = self._scrfd.detect(image, input_size=self.input_size)
        if kps is None or len(det) == 0:
            return np.zeros((0, 4), np.float32), np.zeros((0, 5, 2), np.float32)
        return np.asarray(det[:, :4], np.float32), np.asarray(kps, np.float32)


class Embedder:
    """ArcFace (w600k_r50) on a given session: raw (not normalised) 512-d embeddings of
    faces aligned to the arcface_112 template from their 5 points.

    The crop is what insightface's ``face_align.norm_crop`` makes (least-squares
    similarity onto the template, bilinear, black border; tests compare the two), done
    here because insightface's version warns about a scikit-image deprecation on
    every call.
    """

    def __init__(
        self,
        model_file: Path | str,
        session: SessionLike,
        template: NDArray[np.floating] | None = None,
    ) -> None:
        self._arcface = ArcFaceONNX(model_file=str(model_file), session=session)
        points = ARCFACE_112 if template is None else template
        self.template = np.asarray(points, np.float64).reshape(5, 2)

    def align(self, image: Frame, points5: Landmarks5) -> Frame:
        """The 112x112 ArcFace crop."""
        m = similarity(np.asarray(points5, np.float64), self.template)
        crop = cv2.warpAffine(image, m, (ARCFACE_SIZE, ARCFACE_SIZE), borderValue=0.0)
        return np.asarray(crop, np.uint8)

    def embed(self, images: Sequence[Frame], points5: Sequence[Landmarks5]) -> NDArray[np.float32]:
        """(n, 512) raw embeddings, one batch."""
        crops = [self.align(img, p) for img, p in zip(images, points5, strict=True)]
        return np.asarray(self._arcface.get_feat(crops), np.float32).reshape(len(crops), -1)


@dataclass
class NeuralFaceModels:
    """What identity building needs from the neural models: an embedder (required), a
    detector (optional) and the recogniser's identity, stored with each embedding so
    a changed model file is noticed (``model``: name, sha256)."""

    embedder: Embedder
    detector: FivePointDetector | None = None
    model: dict[str, Any] = field(default_factory=dict)


def normalise(vector: NDArray[np.floating]) -> NDArray[np.float32]:
    """L2-normalised copy (float32); a zero vector stays zero."""
    v = np.asarray(vector, np.float64)
    norm = float(np.linalg.norm(v))
    return (v / norm if norm > 0 else v).astype(np.float32)


def average_embedding(raw: NDArray[np.floating]) -> Embedding:
    """One identity from several selfies: each embedding normalised (so no selfie
    weighs more for its norm), averaged, and normalised again."""
    rows = np.asarray(raw, np.float64).reshape(len(raw), -1)
    units = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return normalise(units.mean(0))


def detect_points5(
    detector: FivePointDetector | None, image: Frame, box: Box4, reference: Landmarks5
) -> NDArray[np.float32] | None:
    """SCRFD's 5 points for the face in ``box``, or None (no detector, no match, or
    the detector failed: a failure is logged, never raised)."""
    if detector is None:
        return None
    try:
        boxes, kps = detector(image)
    except Exception as exc:  # onnxruntime / insightface raise many types
        log.warning("SCRFD failed (%s: %s); using dlib's points", type(exc).__name__, exc)
        return None
    return match_keypoints(box, reference, boxes, kps)


def open_five_point_detector(
    models_dir: Path,
    providers: str = "auto",
    allow_noncommercial: bool = False,
    name: str = "det_10g",
) -> FivePointDetector | None:
    """SCRFD from ``models_dir`` for offline work (template analysis), or None with
    the reason logged when the manifest or the verified model is not there."""
    from server.runtime import ManifestError, ModelStore, load_manifest

    try:
        manifest = load_manifest(Path(models_dir) / "manifest.json")
    except ManifestError as exc:
        log.info("no 5-point detector: %s", str(exc).splitlines()[0])
        return None
    if name not in manifest.names():
        return None
    store = ModelStore(
        manifest, models_dir, providers, [name], allow_noncommercial=allow_noncommercial
    )
    store.load()
    if not store.is_available(name):
        log.info("no 5-point detector: %s", store.model_status(name).state)
        return None
    return FivePointDetector(store.path(name), store.get_session(name))
