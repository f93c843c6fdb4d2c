"""Matching a texture's fine detail to a target's: a crisp selfie pasted into a soft,
motion-blurred clip looks cut out, and its extra contrast shimmers as the face moves."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame, Landmarks68
from server.vision.boxes import clip_box, points_box
from server.vision.masks import hull_mask

SIGMAS = (0.0, 0.4, 0.7, 1.0, 1.4, 1.8, 2.4, 3.0)
DETAIL_SCALE = 1.0


def detail_energy(gray: NDArray[np.float32], mask: NDArray[np.bool_]) -> float:
    """Mean absolute Laplacian of the image after a 1 px Gaussian (which removes
    GIF dithering noise but keeps features), inside ``mask``."""
    smooth = cv2.GaussianBlur(gray, (0, 0), DETAIL_SCALE)
    lap = np.abs(cv2.Laplacian(smooth, cv2.CV_32F))
    return float(lap[mask].mean()) if mask.any() else 0.0


def blur_curve(gray: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Detail energy of ``gray`` after a Gaussian blur of each of ``SIGMAS`` (falling)."""
    out = []
    for sigma in SIGMAS:
        blurred = (
            gray if sigma == 0 else np.asarray(cv2.GaussianBlur(gray, (0, 0), sigma), np.float32)
        )
        out.append(detail_energy(blurred, mask))
    return np.minimum.accumulate(np.array(out))


def sigma_for(curve: NDArray[np.float64], target: float) -> float:
    """The blur (interpolated between ``SIGMAS``) at which the curve falls to ``target``;
    0 when the image is already that soft, the largest sigma when it never gets there."""
    if not np.isfinite(target) or target >= curve[0]:
        return 0.0
    if target <= curve[-1]:
        return float(SIGMAS[-1])
    # np.interp needs increasing x: walk the curve backwards.
    return float(np.interp(target, curve[::-1], np.array(SIGMAS)[::-1]))


def matching_blur(gray: NDArray[np.float32], mask: NDArray[np.bool_], target: float) -> float:
    """The Gaussian sigma (pixels of ``gray``) that brings its detail energy closest to
    ``target`` without going below it; 0 when it is already as soft."""
    best = 0.0
    for sigma in SIGMAS:
        blurred = (
            gray if sigma == 0 else np.asarray(cv2.GaussianBlur(gray, (0, 0), sigma), np.float32)
        )
        if detail_energy(blurred, mask) < target:
            break
        best = sigma
    return best


def face_detail(frame: Frame, lm: Landmarks68) -> float:
    """Detail energy of the face with landmarks ``lm`` in a frame (grey levels)."""
    box = clip_box(points_box(lm, 2), frame.shape[1], frame.shape[0])
    crop = cv2.cvtColor(frame[box.top : box.bottom, box.left : box.right], cv2.COLOR_BGR2GRAY)
    mask = hull_mask(crop.shape[:2], lm - np.array([box.left, box.top], np.float32))
    return detail_energy(crop.astype(np.float32), mask)
