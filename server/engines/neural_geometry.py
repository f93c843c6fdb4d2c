"""Alignment and paste-back for crop-based swap models.

A face is cut out with the similarity transform ``M`` (frame -> crop) that takes its 5
points onto an alignment template (arcface_128 for the inswapper, ffhq_512 for the
enhancer). The model's crop goes back with the *same* ``M`` used as an inverse map
(``WARP_INVERSE_MAP``: every destination pixel samples the crop at ``M @ (x, y, 1)``),
so alignment and paste-back are exact inverses and no matrix is inverted. The
reference implementation warps the crop and its mask into the whole frame in float;
here only the face's bounding box is warped, blended and written (a 360 px frame has
~10x more pixels than a face box).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Affine, Box, Frame, Landmarks5
from server.vision.boxes import clip_box
from server.vision.shape import apply_affine, similarity


def align_matrix(points5: Landmarks5, template: NDArray[np.floating]) -> Affine:
    """Frame -> crop similarity (least squares, as insightface's ``estimate_norm``)."""
    return similarity(np.asarray(points5, np.float64), np.asarray(template, np.float64))


def crop(frame: Frame, m: Affine, size: int, border: int = cv2.BORDER_CONSTANT) -> Frame:
    """The aligned ``size`` x ``size`` crop (bilinear; black outside the frame, as the
    reference does, unless ``border`` says otherwise)."""
    out = cv2.warpAffine(
        frame, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0
    )
    return np.asarray(out, np.uint8)


@dataclass(frozen=True)
class CropMask:
    """A feathered mask in crop space (built once per size) and the rectangle outside
    which it is zero (crop pixels: left, top, right, bottom)."""

    alpha: NDArray[np.float32]
    support: tuple[int, int, int, int]


def feather_mask(size: int, erode: float = 0.1, blur: float = 0.05) -> CropMask:
    """White crop, eroded by ``erode`` x size from the edges, edges blurred over about
    ``blur`` x size: the reference's eroded-and-blurred white mask, in crop space."""
    inset = max(1, int(round(erode * size)))
    alpha = np.zeros((size, size), np.float32)
    alpha[inset : size - inset, inset : size - inset] = 1.0
    k = max(1, int(round(blur * size)))
    alpha = np.asarray(cv2.GaussianBlur(alpha, (2 * k + 1, 2 * k + 1), 0), np.float32)
    alpha[alpha < 1e-3] = 0.0
    ys, xs = np.nonzero(alpha)
    support = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return CropMask(alpha, support)


def paste_box(m: Affine, support: tuple[int, int, int, int], width: int, height: int) -> Box:
    """The frame box that can receive crop pixels inside ``support`` (its corners mapped
    back through ``M``, one pixel of margin for bilinear taps), clipped to the frame."""
    left, top, right, bottom = support
    corners = np.array([[left, top], [right, top], [left, bottom], [right, bottom]], np.float64)
    inverse = np.asarray(cv2.invertAffineTransform(m), np.float64)
    mapped = apply_affine(inverse, corners)
    lo = np.floor(mapped.min(0)).astype(int) - 1
    hi = np.ceil(mapped.max(0)).astype(int) + 2
    return clip_box(Box(int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1])), width, height)


def warp_into_box(
    image: NDArray[Any], m: Affine, box: Box, border: int = cv2.BORDER_CONSTANT
) -> NDArray[np.float32]:
    """Crop-space ``image`` resampled into the frame pixels of ``box`` (the inverse of
    :func:`crop` restricted to the box)."""
    shifted = np.array(m, np.float64, copy=True)
    shifted[:, 2] += shifted[:, :2] @ np.array([box.left, box.top], np.float64)
    out = cv2.warpAffine(
        np.asarray(image, np.float32),
        shifted,
        (box.width, box.height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=border,
        borderValue=0,
    )
    return np.asarray(out, np.float32)


def blend_into(
    frame: Frame, box: Box, patch: NDArray[np.float32], alpha: NDArray[np.float32]
) -> NDArray[np.bool_]:
    """``frame[box] = alpha * patch + (1 - alpha) * frame[box]``, rounded, in place
    (where alpha is 0 the frame keeps its exact value); returns the pixels alpha covers."""
    roi = frame[box.top : box.bottom, box.left : box.right]
    mixed = np.asarray(
        cv2.blendLinear(patch, roi.astype(np.float32), alpha, 1.0 - alpha), np.float32
    )
    np.clip(mixed, 0.0, 255.0, out=mixed)
    mixed += np.float32(0.5)
    roi[...] = mixed.astype(np.uint8)
    covered: NDArray[np.bool_] = alpha > 0
    return covered
