"""Lifting an underexposed selfie's face before it becomes a texture.

A photo taken in the dark keeps its face in the bottom few grey levels. The colour
match to the template later shifts it to the template's lightness, but its contrast
gain is bounded (raising it much brings up noise), so such a face arrives flat, grey
and grainy: its shadow side has lost its colour, and its few levels show as banding.

Brightening spreads those levels out again and gives the shadows back their chroma:
first a gain that takes the face's brightest values near white, as a longer exposure
would, then, for a face still dark, a power curve on the sRGB values (a gamma), as a
photo editor's shadows slider does. What the lift amplifies, noise included, is then
smoothed with non-local means at the strength of the noise measured in the lifted
face (Immerkaer's estimate from a Laplacian-difference filter, "Fast Noise Variance
Estimation", 1996).

Only faces darker than any skin tone in fair light are lifted (:data:`DARK_FACE`):
a dark-skinned face photographed well is left as it is.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame
from server.vision.masks import hull_mask

DARK_FACE = 25.0  # face lightness (CIELAB L, 0..100) under which a photo is underexposed
TARGET = 40.0  # the lifted face's mean lightness
MAX_LIFT = 0.5  # the smallest exponent: a stronger curve turns sensor noise into colour
TOP, TOP_PERCENTILE, MAX_GAIN = 235.0, 99.0, 4.0  # the face's brightest values stretched to TOP
DENOISE = 2.0  # non-local means strength, in multiples of the measured noise
QUIET = 1.0  # noise (grey levels) under which nothing is smoothed
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def face_lightness(image: Frame, lm: NDArray[np.float32]) -> float:
    """Mean CIELAB lightness (0..100) of the face inside its jaw and brows."""
    return _lightness(image, hull_mask(image.shape[:2], lm[:27]))


def _lightness(image: Frame, inside: NDArray[np.bool_]) -> float:
    if not inside.any():
        return float("nan")
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2Lab)
    return float(lab[..., 0][inside].mean() * (100.0 / 255.0))


def noise_level(grey: NDArray[np.uint8], where: NDArray[np.bool_]) -> float:
    """Standard deviation of white noise in ``grey`` (grey levels), estimated over
    ``where`` from the response to a filter that cancels smooth shading."""
    response = np.abs(cv2.filter2D(grey.astype(np.float32), -1, _NOISE_KERNEL))
    inner = cv2.erode(where.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    if inner.sum() < 16:
        return 0.0
    return float(np.sqrt(np.pi / 2.0) * response[inner].mean() / 6.0)


def lift_dark(image: Frame, lm: NDArray[np.float32]) -> Frame:
    """``image`` (BGR) with an underexposed face (landmarks ``lm``) brightened and its
    amplified noise smoothed; any other face unchanged.

    First a gain, so that the face's brightest values (its 99th percentile) reach
    :data:`TOP`, as a longer exposure would; then, if the face is still darker than
    :data:`TARGET`, a power curve to bring its mean there."""
    inside = hull_mask(image.shape[:2], lm[:27])
    light = _lightness(image, inside)
    if not light < DARK_FACE:  # a NaN (no face area) is left alone too
        return image
    top = max(float(np.percentile(image[inside], TOP_PERCENTILE)), 1.0)
    gain = float(np.clip(TOP / top, 1.0, MAX_GAIN))  # a glint must not darken the face
    levels = np.minimum(np.arange(256) * gain / 255.0, 1.0)
    stretched = _lightness(_mapped(image, levels), inside)
    if stretched < TARGET:
        exponent = np.log(TARGET / 100.0) / np.log(max(stretched, 1.0) / 100.0)
        levels = levels ** max(MAX_LIFT, float(exponent))
    return _smoothed(_mapped(image, levels), inside)


def _mapped(image: Frame, levels: NDArray[np.float64]) -> Frame:
    """Each of ``image``'s values v replaced by ``levels[v]`` (0..1) in grey levels."""
    table = np.clip(np.rint(255.0 * levels), 0, 255).astype(np.uint8)
    return np.asarray(cv2.LUT(image, table), np.uint8)


def _smoothed(image: Frame, inside: NDArray[np.bool_]) -> Frame:
    """``image`` with its noise, measured over ``inside``, smoothed (non-local means,
    small windows: a 320 px texture takes under 0.1 s), unless it is already quiet."""
    sigma = noise_level(np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8), inside)
    if sigma < QUIET:
        return image
    h = DENOISE * sigma
    return np.asarray(cv2.fastNlMeansDenoisingColored(image, None, h, h, 5, 11), np.uint8)
