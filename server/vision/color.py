"""Colour statistics and transfer in CIE Lab (OpenCV float Lab: L 0..100, a/b about +-127)."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame


def to_lab(image: Frame) -> NDArray[np.float32]:
    lab = cv2.cvtColor(image.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_BGR2Lab)
    return np.asarray(lab, np.float32)


def lab_to_bgr(lab: NDArray[np.float32]) -> NDArray[np.float32]:
    """Lab back to BGR floats in 0..255 (not clipped)."""
    return cv2.cvtColor(lab, cv2.COLOR_Lab2BGR) * 255.0


def lab_stats(lab: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.float32]:
    """(2, 3): per-channel mean and standard deviation of the masked pixels, after
    dropping each channel's outer 5 % on both sides (a strand of hair, a glint or a
    shadow should not set the contrast of a whole face)."""
    px = lab[mask]
    if len(px) < 16:
        return np.full((2, 3), np.nan, np.float32)
    lo, hi = np.percentile(px, [5, 95], axis=0)
    out = np.empty((2, 3), np.float32)
    for c in range(3):
        v = px[:, c][(px[:, c] >= lo[c]) & (px[:, c] <= hi[c])]
        out[0, c], out[1, c] = v.mean(), v.std()
    return out


def smooth_stats(stats: NDArray[np.float32], window: int = 9) -> NDArray[np.float32]:
    """Moving average of per-frame (N, 2, 3) statistics over ``window`` frames,
    ignoring frames without a face (NaN); per-frame colour correction is a main source
    of flicker, so the target colour must change slowly."""
    n = len(stats)
    out = np.full_like(stats, np.nan)
    half = window // 2
    valid = ~np.isnan(stats[:, 0, 0])
    for i in range(n):
        lo, hi = max(0, i - half), min(n, i + half + 1)
        sel = valid[lo:hi]
        if sel.any():
            out[i] = stats[lo:hi][sel].mean(0)
    return out


def transfer(
    lab: NDArray[np.float32],
    source: NDArray[np.float32],
    target: NDArray[np.float32],
    min_gain: float = 0.4,
    max_gain: float = 1.5,
) -> NDArray[np.float32]:
    """Shift and scale each Lab channel from ``source`` (mean, std) to ``target``.

    Gains are clamped: raising contrast much would blow up the selfie's noise, and
    flattening it completely would erase its features.
    """
    gain = np.clip(target[1] / np.maximum(source[1], 1e-3), min_gain, max_gain)
    return (lab - source[0]) * gain + target[0]
