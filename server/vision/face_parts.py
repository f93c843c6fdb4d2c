"""Masks of a face's dark features (brows, eyes, nostrils, lips) and the template's
mouth carried into a swapped face.

The features matter twice to a swap. Lighting estimates must leave them out: a
low-pass of a face that includes its dark eyes, brows and nostrils carries a faint
copy of them, which pasted onto another face reads as a ghost. And the mouth is
expression: the selfie's lips, teeth or tongue must not replace the template's.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Box
from server.vision import shape
from server.vision.color import to_lab

_NOSTRILS = np.array([31, 32, 33, 34, 35, 30])


def _draw(mask: NDArray[np.uint8], pts: NDArray[np.floating], closed: bool, width: int) -> None:
    p = [np.round(np.asarray(pts) * 4).astype(np.int32)]
    if closed:
        cv2.fillPoly(mask, p, 255, cv2.LINE_8, shift=2)
    cv2.polylines(mask, p, closed, 255, max(1, width), cv2.LINE_8, shift=2)


ALL_FEATURES = ("brows", "eyes", "nostrils", "lips")


def feature_mask(
    size: tuple[int, int],
    lm: NDArray[np.floating],
    offset: tuple[float, float] = (0.0, 0.0),
    parts: tuple[str, ...] = ALL_FEATURES,
) -> NDArray[np.float32]:
    """1 over brows, eyes (lids and lashes), nostrils and lips of the 68 points ``lm``
    (moved by ``-offset``), 0 on the skin, with a soft edge; an image ``size``.
    ``parts``: which of them (see ``ALL_FEATURES``)."""
    p = np.asarray(lm, np.float64)[:68] - np.asarray(offset, np.float64)
    iod = max(shape.interocular(p.astype(np.float32)), 1.0)
    mask = np.zeros(size, np.uint8)
    w = int(round(0.12 * iod))
    if "brows" in parts:
        _draw(mask, p[17:22], False, w)
        _draw(mask, p[22:27], False, w)
    if "eyes" in parts:
        for eye in (shape.EYE_L, shape.EYE_R):
            _draw(mask, p[eye], True, w)
    if "nostrils" in parts:
        _draw(mask, p[_NOSTRILS], True, int(round(0.08 * iod)))
    if "lips" in parts:
        _draw(mask, p[shape.OUTER_LIPS], True, int(round(0.06 * iod)))
    out = cv2.GaussianBlur(mask.astype(np.float32) * (1.0 / 255.0), (0, 0), 0.04 * iod)
    return np.asarray(np.clip(out * 1.5, 0.0, 1.0), np.float32)


def mouth_mask(box: Box, lm: NDArray[np.floating], iod: float) -> NDArray[np.float32]:
    """Soft mask of the mouth (outer lips and a thin band of skin around them) inside
    ``box``: 1 over the lips, falling to 0 about 0.08 ``iod`` beyond them (a
    moustache just above is identity, and stays)."""
    p = np.asarray(lm, np.float64)[shape.OUTER_LIPS] - (box.left, box.top)
    mask = np.zeros((box.height, box.width), np.uint8)
    _draw(mask, p, True, int(round(0.06 * iod)))
    out = cv2.GaussianBlur(mask.astype(np.float32) * (1.0 / 255.0), (0, 0), 0.03 * iod)
    return np.asarray(np.clip(out * 1.6, 0.0, 1.0), np.float32)


def with_template_mouth(
    layer: NDArray[np.float32],
    under: NDArray[np.float32],
    mouth: NDArray[np.float32],
    alpha: NDArray[np.float32],
) -> NDArray[np.float32]:
    """``layer`` (the swapped face, BGR floats) with the mouth region replaced by the
    template's (``under``), shifted in colour by the mean difference between the two on
    the skin just around the mouth so that it sits in the swapped face's tone."""
    ring = (mouth > 0.02) & (mouth < 0.5) & (alpha > 0.5)
    if int(ring.sum()) < 8:
        return layer
    shift = (layer[ring] - under[ring]).mean(0).astype(np.float32)
    m = mouth[..., None]
    return np.asarray(layer * (1.0 - m) + (under + shift) * m, np.float32)


LIP_COLOUR_RATIO = 1.3  # the most the lips' colour may stand out more than the template's
LIP_COLOUR_SLACK = 4.0  # Lab a*b* units allowed beyond that ratio


def tamed_lips(
    layer_lab: NDArray[np.float32],
    under_bgr: NDArray[np.float32],
    mouth: NDArray[np.float32],
    alpha: NDArray[np.float32],
) -> NDArray[np.float32]:
    """``layer_lab`` (the swapped face, Lab) with its lips' colour pulled towards the
    skin around them where they stand out from it far more than the template's lips
    do from its skin in this frame (a painted portrait's red lips, raised further by
    the colour transfer, look pasted onto a pale-lipped template face)."""
    lips = (mouth > 0.5) & (alpha > 0.5)
    ring = (mouth > 0.02) & (mouth < 0.5) & (alpha > 0.5)
    if int(lips.sum()) < 4 or int(ring.sum()) < 8:
        return layer_lab
    under = to_lab(np.clip(under_bgr, 0, 255).astype(np.uint8))
    skin = layer_lab[ring, 1:].mean(0)
    own = float(np.linalg.norm(layer_lab[lips, 1:].mean(0) - skin))
    theirs = float(np.linalg.norm(under[lips, 1:].mean(0) - under[ring, 1:].mean(0)))
    allowed = LIP_COLOUR_RATIO * theirs + LIP_COLOUR_SLACK
    if own <= allowed:
        return layer_lab
    k = (1.0 - allowed / own) * mouth
    out = layer_lab.copy()
    out[:, :, 1:] -= (layer_lab[:, :, 1:] - skin) * k[..., None]
    return out


_LIPS = np.arange(48, 68)
_UPPER_LIP = np.array([50, 51, 52])
MAX_MOUTH_SCALE = 0.15  # the most the mouth's width changes, share of the template's


def template_mouth_offsets(
    delta: NDArray[np.float64], ref: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Identity offsets (68, 2; x across the face, y down it) whose lips keep the
    template's mouth shape: only the mouth's width (bounded) and its height on the face
    come from ``delta``. A smile's raised corners, a grimace's or a pout's lip shape
    are expression, which the template decides."""
    d = np.array(delta, np.float64, copy=True)
    width = float(ref[54, 0] - ref[48, 0])
    grow = (delta[54, 0] - delta[48, 0]) / max(width, 1e-6)
    grow = float(np.clip(grow, -MAX_MOUTH_SCALE, MAX_MOUTH_SCALE))
    centre = float(ref[_LIPS, 0].mean())
    d[_LIPS, 0] = float(delta[_LIPS, 0].mean()) + (ref[_LIPS, 0] - centre) * grow
    d[_LIPS, 1] = float(delta[_UPPER_LIP, 1].mean())
    return d


LIPS_APART = 0.15  # open share of the lips' area from which a mouth shows its inside


def lips_apart(lm: NDArray[np.floating]) -> float:
    """Share of the outer lips' area that is open mouth (inner-lip polygon): 0 for a
    closed mouth; lips parted at rest read up to about 0.13 (dlib), teeth or a
    tongue showing from about 0.2."""
    inner = abs(float(cv2.contourArea(np.asarray(lm[60:68], np.float32))))
    outer = abs(float(cv2.contourArea(np.asarray(lm[48:60], np.float32))))
    return inner / max(outer, 1e-6)
