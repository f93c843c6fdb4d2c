"""Face detection tuned for template frames, on top of :class:`DlibFaceModels`.

Two ways to look, both dlib HOG (no CNN: it costs 1-3 s a frame and templates are
curated, frontal-ish footage):

- ``scan``: the whole frame, upsampled so faces down to ``min_face`` px are found.
  Used to discover faces (first frame, every few frames, and when a track is lost).
- ``around``: a crop around where a tracked face is expected, resampled so the face is
  about ``ROI_FACE_PX`` wide, then HOG without upsampling. Cheap, finds small faces
  better than the full scan, and gives every frame of a track boxes (hence landmarks)
  at the same scale, which keeps them steadier.
"""

from __future__ import annotations

import cv2
import numpy as np

from server.faces.dlib_models import DlibFaceModels
from server.gif_templates.linking import Detection, box_iou
from server.types import Box, Frame, Landmarks68

ROI_FACE_PX = 110  # face size the crop is resampled to (HOG's window is 80 px)
ROI_MARGIN = 0.6  # crop margin around the expected box, in face sizes
DEFAULT_MIN_FACE = 40  # px: HOG upsampled once; smaller template faces are not worth swapping
_ROI_MIN_IOU = 0.25

BoxTuple = tuple[float, float, float, float]


class FrameDetector:
    """Scan, track-around and refit helpers sharing one set of dlib models."""

    def __init__(self, models: DlibFaceModels, min_face: int = DEFAULT_MIN_FACE) -> None:
        self.models = models
        self.min_face = min_face
        self.calls = {"scan": 0, "around": 0, "refit": 0}

    def scan(self, frame: Frame) -> list[Detection]:
        """All faces in the frame (HOG, upsampled for ``min_face``)."""
        self.calls["scan"] += 1
        faces = self.models.detect(frame, min_face=self.min_face, use_cnn=False, max_side=4096)
        return [
            Detection(
                (f.box.left, f.box.top, f.box.right, f.box.bottom), f.landmarks, float(f.score)
            )
            for f in faces
        ]

    def around(self, frame: Frame, expected: BoxTuple) -> Detection | None:
        """The face near ``expected`` (same scale, overlapping), or None."""
        self.calls["around"] += 1
        crop, origin, scale = _roi(frame, expected)
        if crop is None:
            return None
        faces = self.models.detect(crop, min_face=80, use_cnn=False, max_side=4096)
        best: Detection | None = None
        best_iou = _ROI_MIN_IOU
        for face in faces:
            b = face.box
            box = (
                b.left / scale[0] + origin[0],
                b.top / scale[1] + origin[1],
                b.right / scale[0] + origin[0],
                b.bottom / scale[1] + origin[1],
            )
            iou = box_iou(box, expected)
            if iou > best_iou:
                pts = face.landmarks / np.array(scale, np.float32) + np.array(origin, np.float32)
                best, best_iou = Detection(box, pts.astype(np.float32), float(face.score)), iou
        return best

    def refit(self, frame: Frame, box: BoxTuple) -> Landmarks68 | None:
        """dlib's 68 landmarks inside ``box`` (no detection); None if the box is off-frame."""
        self.calls["refit"] += 1
        h, w = frame.shape[:2]
        left, top, right, bottom = (int(round(v)) for v in box)
        inside = right > 0 and bottom > 0 and left < w and top < h
        if not inside or right - left < 8 or bottom - top < 8:
            return None
        return self.models.landmarks(frame, Box(left, top, right, bottom))


def _roi(frame: Frame, box: BoxTuple) -> tuple[Frame | None, tuple[int, int], tuple[float, float]]:
    """Crop around ``box`` resampled to put the face at ROI_FACE_PX; origin and x/y scale."""
    h, w = frame.shape[:2]
    size = float(np.sqrt(max(box[2] - box[0], 1.0) * max(box[3] - box[1], 1.0)))
    margin = ROI_MARGIN * size
    left, top = max(0, int(box[0] - margin)), max(0, int(box[1] - margin))
    right, bottom = min(w, int(np.ceil(box[2] + margin))), min(h, int(np.ceil(box[3] + margin)))
    if right - left < size * 0.8 or bottom - top < size * 0.8:
        return None, (0, 0), (1.0, 1.0)
    scale = ROI_FACE_PX / size
    crop = frame[top:bottom, left:right]
    out_size = (max(1, round((right - left) * scale)), max(1, round((bottom - top) * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    # Map back with the scales actually applied (the crop size was rounded).
    scales = (out_size[0] / (right - left), out_size[1] / (bottom - top))
    resized: Frame = cv2.resize(crop, out_size, interpolation=interp)  # type: ignore[assignment]
    return resized, (left, top), scales
