"""Restoring a soft selfie's fine detail to the template's level (the counterpart of
softening a crisp one, see :mod:`server.vision.detail`): a blurry face inside a sharp
clip looks pasted on just as much as a crisp face in a soft one."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.vision.detail import detail_energy

AMOUNTS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
RADIUS = 1.5  # unsharp-mask sigma, pixels at the template's scale
MAX_AMOUNT = 3.0  # bounded: beyond it noise and JPEG blocks come up, not the face
TARGET = 0.85  # share of the template face's detail aimed at: sharpened detail shimmers more


def unsharp(
    gray: NDArray[np.float32], sigma: float, amount: float | NDArray[np.float32]
) -> NDArray[np.float32]:
    blurred = cv2.GaussianBlur(gray, (0, 0), sigma)
    return np.asarray(gray + amount * (gray - blurred), np.float32)


def amount_for(gray: NDArray[np.float32], mask: NDArray[np.bool_], target: float) -> float:
    """The unsharp-mask amount (``RADIUS``, interpolated between ``AMOUNTS``) that
    brings the detail energy of ``gray`` inside ``mask`` up to ``target``; 0 when it
    is already that sharp, ``MAX_AMOUNT`` when it never gets there."""
    if not np.isfinite(target):
        return 0.0
    curve = np.maximum.accumulate([detail_energy(unsharp(gray, RADIUS, a), mask) for a in AMOUNTS])
    if target <= curve[0]:
        return 0.0
    if target >= curve[-1]:
        return MAX_AMOUNT
    return float(np.interp(target, curve, np.array(AMOUNTS)))


def sharpened_lab(
    lab: NDArray[np.float32],
    sigma: float,
    amount: float,
    where: NDArray[np.float32] | None = None,
) -> NDArray[np.float32]:
    """Lab image with its lightness unsharp-masked (``sigma`` in its own pixels), by
    ``amount`` times ``where`` (0..1 per pixel; everywhere when None)."""
    if amount <= 0:
        return lab
    out = lab.copy()
    gain = amount if where is None else amount * where
    out[:, :, 0] = np.clip(unsharp(np.ascontiguousarray(lab[:, :, 0]), sigma, gain), 0, 100)
    return out
