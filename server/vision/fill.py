"""Filling what a mask leaves out with the colours around it, by normalised
convolution: a blur of the kept pixels divided by the blur of the mask, first at a
coarse scale (to reach across wide holes), then finer where enough is kept nearby.
Smooth by nature; it never smears a hole's dark border into it, as painting inwards
from the border does."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame

_ENOUGH = 0.05  # blurred mask weight under which a scale's estimate is not trusted


def smooth_fill(
    image: NDArray[np.float32], weight: NDArray[np.float32], sigmas: Sequence[float]
) -> NDArray[np.float32]:
    """Per pixel, the ``weight``-weighted mean colour of ``image`` around it, at the
    finest of ``sigmas`` (coarse to fine, px) that has enough weight nearby."""
    w = weight[..., None] if image.ndim == 3 else weight
    fill = image.astype(np.float32).copy()
    for sigma in sigmas:
        num, den = blurred(image * w, sigma), blurred(w, sigma)
        fill = np.where(den > _ENOUGH, num / np.maximum(den, 1e-6), fill)
    return fill


def painted_over(
    image: Frame, holes: NDArray[np.bool_], known: NDArray[np.bool_], sigmas: Sequence[float]
) -> Frame:
    """``image`` with ``holes`` filled with the colour of the ``known`` pixels around
    them (:func:`smooth_fill` at ``sigmas``); every other pixel as it was."""
    fill = smooth_fill(image.astype(np.float32), known.astype(np.float32), sigmas)
    out = image.copy()
    out[holes] = np.clip(fill[holes] + 0.5, 0, 255).astype(np.uint8)
    return out


def blurred(image: NDArray[np.float32], sigma: float) -> NDArray[np.float32]:
    """A Gaussian blur of ``sigma`` px done at a quarter of sigma's scale (a wide
    kernel at full size costs tens of milliseconds; the result is smooth anyway)."""
    h, w = image.shape[:2]
    k = max(1.0, sigma / 4.0)
    size = (max(1, round(w / k)), max(1, round(h / k)))
    small = cv2.resize(image.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / k)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.asarray(out, np.float32).reshape(image.shape)
