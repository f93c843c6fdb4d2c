"""Matching a texture's fine detail to a target's: a crisp selfie pasted into a soft,
motion-blurred clip looks cut out, and its extra contrast shimmers as the face moves."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

SIGMAS = (0.0, 0.4, 0.7, 1.0, 1.4, 1.8, 2.4, 3.0)


def detail_energy(gray: NDArray[np.float32], mask: NDArray[np.bool_]) -> float:
    """Mean absolute Laplacian of the image after a 1 px Gaussian (which removes
    GIF dithering noise but keeps features), inside ``mask``."""
    smooth = cv2.GaussianBlur(gray, (0, 0), 1.0)
    lap = np.abs(cv2.Laplacian(smooth, cv2.CV_32F))
    return float(lap[mask].mean()) if mask.any() else 0.0


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
