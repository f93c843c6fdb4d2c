"""Matching 5-point keypoints from a detector (SCRFD) to a face dlib found.

Kept free of model imports so template analysis can use it without loading
insightface.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from server.vision.boxes import box_iou

MATCH_IOU = 0.3  # detector box vs the dlib box (dlib's boxes are tighter than SCRFD's)
MAX_DISAGREEMENT = 0.35  # mean detector-vs-dlib 5-point distance, in inter-ocular distances

Box4 = tuple[float, float, float, float]


def match_keypoints(
    box: Box4,
    reference: NDArray[np.floating],
    boxes: NDArray[np.float32],
    kps: NDArray[np.float32],
) -> NDArray[np.float32] | None:
    """The keypoints of the detection overlapping ``box`` best (IoU >= MATCH_IOU) whose
    points agree with ``reference`` (dlib-derived 5 points) within MAX_DISAGREEMENT
    inter-ocular distances; None when no detection qualifies."""
    ref = np.asarray(reference, np.float32)
    iod = max(float(np.linalg.norm(ref[1] - ref[0])), 1.0)
    best, best_iou = None, MATCH_IOU
    for b, k in zip(boxes, kps, strict=True):
        iou = box_iou((float(b[0]), float(b[1]), float(b[2]), float(b[3])), box)
        if iou < best_iou:
            continue
        if float(np.linalg.norm(k - ref, axis=1).mean()) <= MAX_DISAGREEMENT * iod:
            best, best_iou = np.asarray(k, np.float32), iou
    return best
