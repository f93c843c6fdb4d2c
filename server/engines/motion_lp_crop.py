"""The portrait crop the LivePortrait networks see, and the paste-back of their output.

The crop follows LivePortrait's source crop (dsize 512, scale 2.3, vx 0, vy -0.125): the
face is turned upright along the eyes-to-mouth axis, the square box around its
landmarks is enlarged 2.3 times and moved up by 0.125 of its size. LivePortrait measures
the box on its own 203/106-point landmarks; here the 68 iBUG points give it (their
contour spans the same jaw-to-brow extent).

Paste-back: the 512 output goes back through the inverse of the crop matrix and is
blended with a feathered ellipse (inset from the crop's edges, so the crop's square
never shows) that also fades to zero in a thin band along the portrait's border, so
the border never moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Affine, Frame, Landmarks68

CROP_SIZE = 512
NET_SIZE = 256
CROP_SCALE = 2.3
CROP_VX = 0.0
CROP_VY = -0.125


@dataclass(frozen=True)
class MaskShape:
    """The paste mask in crop space (shares of the crop size) and the border band."""

    half_width: float = 0.30  # ellipse semi-axes, share of the crop size
    half_height: float = 0.34
    centre_y: float = 0.5  # ellipse centre height, share of the crop size
    feather: float = 0.04  # Gaussian sigma, share of the crop size (4 sigma fit inside)
    border: float = 0.04  # fade band along the portrait's border, share of its short side


def crop_matrix(
    landmarks: Landmarks68,
    dsize: int = CROP_SIZE,
    scale: float = CROP_SCALE,
    vx: float = CROP_VX,
    vy: float = CROP_VY,
) -> Affine:
    """Similarity (2, 3) mapping portrait pixels into the dsize x dsize crop."""
    pts = np.asarray(landmarks, np.float64).reshape(68, 2)
    eyes, mouth = pts[36:48].mean(axis=0), pts[48:68].mean(axis=0)
    down = mouth - eyes
    if not np.all(np.isfinite(down)) or np.linalg.norm(down) < 1e-6:
        raise ValueError("landmarks give no eyes-to-mouth direction")
    uy = down / np.linalg.norm(down)
    ux = np.array([uy[1], -uy[0]])
    frame = np.stack([ux, uy])  # rows: the upright axes in portrait coordinates
    centre0 = pts.mean(axis=0)
    upright = (pts - centre0) @ frame.T
    low, high = upright.min(axis=0), upright.max(axis=0)
    size = float(np.max(high - low)) * scale
    middle = (low + high) / 2.0
    centre = centre0 + frame.T @ middle + ux * (vx * size) + uy * (vy * size)
    k = dsize / size
    linear = k * frame  # portrait offset -> crop offset
    offset = dsize / 2.0 - linear @ centre
    return np.hstack([linear, offset[:, None]]).astype(np.float64)


def crop(portrait: Frame, matrix: Affine, dsize: int = CROP_SIZE) -> Frame:
    """The crop (BGR uint8), edges replicated where it leaves the portrait."""
    out = cv2.warpAffine(
        portrait, matrix, (dsize, dsize), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return np.asarray(out, np.uint8)


def crop_mask(dsize: int = CROP_SIZE, shape: MaskShape | None = None) -> NDArray[np.float32]:
    """Feathered ellipse in crop space, 0..1, zero at the crop's edges."""
    shape = shape or MaskShape()
    mask = np.zeros((dsize, dsize), np.float32)
    centre = (round(dsize / 2), round(dsize * shape.centre_y))
    axes = (round(dsize * shape.half_width), round(dsize * shape.half_height))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1.0, thickness=-1)
    sigma = max(dsize * shape.feather, 0.5)
    return np.asarray(cv2.GaussianBlur(mask, (0, 0), sigma), np.float32)


def border_fade(height: int, width: int, band: float) -> NDArray[np.float32]:
    """1 inside, ramping to 0 at the image's edge over ``band`` of its short side."""
    pixels = max(int(round(min(height, width) * band)), 1)
    ys = np.minimum(np.arange(height), np.arange(height)[::-1]).astype(np.float32)
    xs = np.minimum(np.arange(width), np.arange(width)[::-1]).astype(np.float32)
    ramp_y = np.clip(ys / pixels, 0.0, 1.0)
    ramp_x = np.clip(xs / pixels, 0.0, 1.0)
    return (ramp_y[:, None] * ramp_x[None, :]).astype(np.float32)


def paste_mask(
    portrait_shape: tuple[int, ...], matrix: Affine, shape: MaskShape | None = None
) -> NDArray[np.float32]:
    """The blend weight (H, W) of the animated crop in the portrait."""
    shape = shape or MaskShape()
    height, width = portrait_shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    in_crop = crop_mask(CROP_SIZE, shape)
    weight = cv2.warpAffine(
        in_crop, inverse, (width, height), flags=cv2.INTER_LINEAR, borderValue=0.0
    )
    return np.clip(weight, 0.0, 1.0) * border_fade(height, width, shape.border)


def paste_back(
    portrait: Frame, generated: NDArray[np.floating], matrix: Affine, weight: NDArray[np.float32]
) -> Frame:
    """Blend the generated crop (BGR, 0..255) into a copy of the portrait."""
    height, width = portrait.shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    warped = cv2.warpAffine(
        np.asarray(generated, np.float32),
        inverse,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    alpha = weight[..., None]
    out = alpha * warped + (1.0 - alpha) * portrait.astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
