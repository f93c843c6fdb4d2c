"""Face-region masks from landmarks, shared by the engines."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Box, Frame
from server.vision import color, shape
from server.vision.boxes import clip_box, points_box


def hull_mask(size: tuple[int, int], pts: NDArray[np.floating]) -> NDArray[np.bool_]:
    """Filled convex hull of the points."""
    mask = np.zeros(size, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(pts).astype(np.int32)), 1)
    return mask.astype(bool)


def grown(mask: NDArray[np.generic], radius: int) -> NDArray[np.bool_]:
    """Where ``mask`` is set (non-zero), grown by a disk of ``radius`` px."""
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return np.asarray(cv2.dilate((mask != 0).astype(np.uint8), disk), bool)


def skin_mask(size: tuple[int, int], lm: NDArray[np.float32]) -> NDArray[np.bool_]:
    """Cheeks, nose and forehead band: the jaw-and-brows hull minus eyes and mouth."""
    mask = np.zeros(size, np.uint8)
    hull = cv2.convexHull(np.round(np.concatenate([lm[:17], lm[17:27]])).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    for part in (shape.EYE_L, shape.EYE_R, shape.OUTER_LIPS):
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(lm[part]).astype(np.int32)), 0)
    k = max(1, int(shape.interocular(lm) * 0.1))
    return cv2.erode(mask, np.ones((k, k), np.uint8)).astype(bool)


def face_skin(
    frame: Frame, lm: NDArray[np.float32]
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """The face's box in a frame, in Lab, and its skin there (see :func:`skin_mask`)."""
    box = clip_box(points_box(lm, 2), frame.shape[1], frame.shape[0])
    crop = frame[box.top : box.bottom, box.left : box.right]
    local = lm - np.array([box.left, box.top], np.float32)
    return color.to_lab(crop), skin_mask(crop.shape[:2], local)


def face_colour_stats(frame: Frame, lm: NDArray[np.float32]) -> NDArray[np.float32]:
    """Lab statistics of a face's skin in a frame (see :func:`skin_mask`)."""
    return color.lab_stats(*face_skin(frame, lm))


def polygon_mask(box: Box, pts: NDArray[np.float64], soften: float) -> NDArray[np.float32]:
    """Mask of a polygon inside ``box``, its edge softened by ``soften`` pixels."""
    p = pts - (box.left, box.top)
    mask = np.zeros((box.height, box.width), np.float32)
    cv2.fillPoly(mask, [np.round(p * 4).astype(np.int32)], 1.0, cv2.LINE_AA, shift=2)
    return np.asarray(cv2.GaussianBlur(mask, (0, 0), sigmaX=max(0.5, soften)), np.float32)


def feathered_polygon(box: Box, pts: NDArray[np.float64], feather: float) -> NDArray[np.float32]:
    """Mask of a polygon inside ``box``, shrunk by half ``feather`` pixels and blurred
    with sigma 0.8 ``feather``: low on the polygon's edge, 1 well inside."""
    p = np.asarray(pts, np.float64) - (box.left, box.top)
    mask = np.zeros((box.height, box.width), np.uint8)
    cv2.fillPoly(mask, [np.round(p * 4).astype(np.int32)], 255, cv2.LINE_8, shift=2)
    k = max(1, int(round(feather / 2)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    eroded = np.asarray(cv2.erode(mask, kernel), np.float32) * (1.0 / 255.0)
    out = cv2.GaussianBlur(eroded, (0, 0), sigmaX=max(0.5, 0.8 * feather))
    return np.asarray(out, np.float32)
