"""dlib's offline face models: HOG (+ CNN fallback) detector, 68 landmarks, 128-d descriptor.

The weights ship inside the ``face_recognition_models`` package, so nothing is
downloaded. Build one :class:`DlibFaceModels` per process at start-up and share it.
"""

from __future__ import annotations

import threading

import cv2
import dlib
import face_recognition_models
import numpy as np

from server.types import Box, Descriptor, DetectedFace, Frame, Landmarks68

# dlib's HOG detector finds faces down to about 80 px; each upsampling halves that.
_HOG_MIN_FACE = 80


class DlibFaceModels:
    """Detector, landmarker and descriptor; thread-safe (one lock, dlib is not)."""

    def __init__(self, cnn_fallback: bool = True) -> None:
        self._hog = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(
            face_recognition_models.pose_predictor_model_location()
        )
        self._encoder = dlib.face_recognition_model_v1(
            face_recognition_models.face_recognition_model_location()
        )
        self._cnn = (
            dlib.cnn_face_detection_model_v1(
                face_recognition_models.cnn_face_detector_model_location()
            )
            if cnn_fallback
            else None
        )
        self._lock = threading.Lock()

    # -- detection ---------------------------------------------------------------------
    def detect(
        self,
        image: Frame,
        min_face: int = 40,
        use_cnn: bool = True,
        max_side: int = 1024,
    ) -> list[DetectedFace]:
        """Find faces with landmarks, largest first.

        HOG runs first, upsampled enough to see faces of ``min_face`` px; when it finds
        nothing the CNN (MMOD) detector gets a second look. Large images are searched
        at a reduced size (``max_side``) and the results mapped back.
        """
        scale = min(1.0, max_side / max(image.shape[:2]))
        work = image if scale >= 1.0 else _resize(image, scale)
        rgb = np.ascontiguousarray(work[:, :, ::-1])
        upsample = 0
        smallest = _HOG_MIN_FACE
        while smallest > min_face * scale and upsample < 2:
            upsample += 1
            smallest //= 2
        with self._lock:
            rects, scores, _ = self._hog.run(rgb, upsample, 0.0)
            found = [(r, float(s), "hog") for r, s in zip(rects, scores, strict=True)]
            if not found and use_cnn and self._cnn is not None:
                found = self._cnn_detect(rgb)
            faces = []
            for rect, score, kind in found:
                pts = self._shape(rgb, rect) / scale
                box = Box(
                    int(round(rect.left() / scale)),
                    int(round(rect.top() / scale)),
                    int(round((rect.right() + 1) / scale)),
                    int(round((rect.bottom() + 1) / scale)),
                )
                faces.append(DetectedFace(box, pts.astype(np.float32), score, kind))  # type: ignore[arg-type]
        faces.sort(key=lambda f: f.box.area, reverse=True)
        return faces

    def _cnn_detect(
        self, rgb: np.ndarray, max_side: int = 640
    ) -> list[tuple[dlib.rectangle, float, str]]:
        """MMOD CNN detector on a copy of at most ``max_side`` px (about 1 s on a CPU core)."""
        k = min(1.0, max_side / max(rgb.shape[:2]))
        small = rgb if k >= 1.0 else np.ascontiguousarray(_resize(rgb, k))
        up = 1 if max(small.shape[:2]) < 400 else 0
        found: list[tuple[dlib.rectangle, float, str]] = []
        if self._cnn is None:
            return found
        for d in self._cnn(small, up):
            r = d.rect
            rect = dlib.rectangle(
                int(r.left() / k), int(r.top() / k), int(r.right() / k), int(r.bottom() / k)
            )
            found.append((rect, float(d.confidence), "cnn"))
        return found

    def landmarks(self, image: Frame, box: Box) -> Landmarks68:
        """68 landmarks inside a known face box (used by template tracking)."""
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        rect = dlib.rectangle(box.left, box.top, box.right - 1, box.bottom - 1)
        with self._lock:
            return self._shape(rgb, rect).astype(np.float32)

    def _shape(self, rgb: np.ndarray, rect: dlib.rectangle) -> np.ndarray:
        shape = self._predictor(rgb, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    # -- descriptor --------------------------------------------------------------------
    def descriptor(self, image: Frame, landmarks: Landmarks68) -> Descriptor:
        """dlib's 128-d face descriptor for the face with these 68 landmarks."""
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        pts = [dlib.point(int(round(x)), int(round(y))) for x, y in landmarks]
        xs, ys = landmarks[:, 0], landmarks[:, 1]
        rect = dlib.rectangle(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
        shape = dlib.full_object_detection(rect, pts)
        with self._lock:
            vec = self._encoder.compute_face_descriptor(rgb, shape)
        return np.asarray(vec, dtype=np.float32)


def descriptor_distance(a: Descriptor, b: Descriptor) -> float:
    """Euclidean distance between dlib descriptors (< 0.6: same person)."""
    return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))


def _resize(image: Frame, scale: float) -> Frame:
    h, w = image.shape[:2]
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
