"""Spectacles painted out of a selfie, so their frames never reach a swap.

:mod:`server.vision.glasses` finds the frames as thin lines. Thick frames (heavy
acetate, a drawn pair) are wider than that line finder's reach, and it may follow
only part of a lens: painted over from a mask that covers part of a rim's width, the
rim's own dark edges fill the hole and a grey ring is left. So the mask found is grown
over the dark pixels connected to it (from a little above the brows down to the nose
tip, inside the face's outline, never into the eyes or the brows), and then filled
with the colour of the skin around it.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Box, Frame
from server.vision import color, masks, shape
from server.vision.fill import painted_over
from server.vision.glasses import (
    EVIDENCE_AT,
    canonical_crop,
    evidence,
    frames_mask,
    mask_in_box,
)

_DARK = 0.6  # frames are darker than this share of the cheeks' lightness
_EYE_MARGIN = 0.05  # kept around each eye, share of the inter-ocular distance
_BROW_WIDTH = 0.06  # brows kept, line width as a share of the inter-ocular distance
_ABOVE_BROWS = 0.2  # frames looked for this far above the brows (same unit)


def remove_glasses(image: Frame, lm: NDArray[np.floating], worn: bool | None = None) -> Frame:
    """``image`` with the frames of the glasses on face ``lm`` painted over from the
    skin around them (unchanged when the face wears none; ``worn``: whether it does, if
    already measured on this image)."""
    crop, pts = canonical_crop(image, lm)
    if worn is None:
        worn = evidence(crop, pts) >= EVIDENCE_AT
    if not worn:
        return image
    h, w = image.shape[:2]
    lm32 = np.asarray(lm, np.float32)
    iod = shape.interocular(lm32)
    found = mask_in_box(frames_mask(crop, pts), lm, Box(0, 0, w, h)) > 0.15
    dark = _dark(image, lm32)
    if dark is not None:
        found |= _joined(found, dark & _band(lm32, (h, w), iod) & ~_features(lm32, (h, w), iod))
    holes = masks.grown(found, max(1, int(round(0.03 * iod))))
    known = ~holes & masks.hull_mask((h, w), lm32[0:27]).astype(bool)  # the face's own
    if dark is not None:
        known &= ~dark
    # Filled from the skin around: a rim's dark edges, lashes or brows beside a hole
    # must not be smeared into it.
    return painted_over(image, holes, known, (0.3 * iod, 0.06 * iod))


def _dark(image: Frame, lm: NDArray[np.float32]) -> NDArray[np.bool_] | None:
    """Pixels darker than frames' share of the cheeks' lightness (None: no cheeks)."""
    cheeks = masks.skin_mask(image.shape[:2], lm)
    if cheeks.sum() < 20:
        return None
    lab = color.to_lab(image)
    return np.asarray(lab[:, :, 0] < _DARK * float(np.median(lab[cheeks][:, 0])), bool)


def _joined(seed: NDArray[np.bool_], region: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The connected parts of ``region`` that ``seed`` touches."""
    _, labels = cv2.connectedComponents(region.astype(np.uint8), connectivity=8)
    touched = np.unique(labels[seed & region])
    return np.isin(labels, touched[touched > 0])


def _band(lm: NDArray[np.float32], size: tuple[int, int], iod: float) -> NDArray[np.bool_]:
    """Inside the face's outline, from a little above the brows (a lens's top rim
    often rises over them) down to the nose tip."""
    raised = lm[17:27] - np.array([0.0, _ABOVE_BROWS * iod], np.float32)
    inside = masks.hull_mask(size, np.concatenate([lm[0:27], raised])).astype(bool)
    rows = np.arange(size[0])[:, None]
    return inside & (rows <= lm[30, 1])


def _features(lm: NDArray[np.float32], size: tuple[int, int], iod: float) -> NDArray[np.bool_]:
    """The eyes (with a margin: lashes, iris) and the brows, never taken for frames."""
    out = np.zeros(size, np.uint8)
    margin = max(1, int(round(_EYE_MARGIN * iod)))
    for eye in (shape.EYE_L, shape.EYE_R):
        poly = np.round(lm[eye]).astype(np.int32)
        cv2.fillPoly(out, [poly], 1)
        cv2.polylines(out, [poly], True, 1, 2 * margin)
    brows = [np.round(lm[17:22]).astype(np.int32), np.round(lm[22:27]).astype(np.int32)]
    cv2.polylines(out, brows, False, 1, max(1, int(round(_BROW_WIDTH * iod))))
    return out.astype(bool)
