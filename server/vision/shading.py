"""The template's lighting on a swapped face, without the template's features.

The lighting of a face is its low-frequency lightness, but a plain low-pass of a face
also carries its dark features (brows, eyes and their sockets, nostrils, make-up): a
blurred copy of them, added to another face, reads as a translucent mask of the
template. Here both faces' lighting is estimated over the skin only: the features the
landmarks place are left out, and so is whatever is much darker than the skin around
it (a second pass, relative to the first estimate), which catches what landmarks miss.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from server.types import Frame
from server.vision import shape
from server.vision.color import MAX_SHADING, enlarged, lowpass, lowpass_small
from server.vision.masks import face_skin

DARK = 6.0  # Lab L below the local skin estimate at which a pixel counts half as skin
SCALE = 0.3  # the lighting's blur (Gaussian sigma), share of the inter-ocular distance
MAX_TINT = 8.0  # Lab a, b units: the most the skin's tint is moved


def skin_light(
    light: NDArray[np.float32],
    weight: NDArray[np.float32],
    sigma: float,
    norm: NDArray[np.float32] | None = None,
) -> NDArray[np.float32]:
    """Low-pass of ``light`` over the ``weight``ed pixels, with pixels much darker than
    a first estimate weighted down (normalised convolution, twice); ``norm``: the
    weight's own low-pass plus 1e-3, when the caller already has it."""
    if norm is None:
        norm = lowpass(weight, sigma) + 1e-3
    w = _below(lowpass(light * weight, sigma) / norm, light, weight)
    return np.asarray(lowpass(light * w, sigma) / (lowpass(w, sigma) + 1e-3), np.float32)


def _below(
    first: NDArray[np.float32], light: NDArray[np.float32], weight: NDArray[np.float32]
) -> NDArray[np.float32]:
    """``weight`` over pixels of ``light`` much darker than the estimate ``first``
    weighted down."""
    below = np.maximum(first - light, 0.0) / DARK
    return np.asarray(weight / (1.0 + below * below), np.float32)


def shading_difference(
    target_l: NDArray[np.float32],
    source_l: NDArray[np.float32],
    weight: NDArray[np.float32],
    sigma: float,
    region: NDArray[np.float32],
) -> NDArray[np.float32]:
    """The target's skin lighting minus the source's (Lab L units, bounded), over
    ``region``; ``weight``: where either face shows skin (features left out)."""
    norm = lowpass(weight, sigma) + 1e-3  # the same weight for both faces
    diff = skin_light(target_l, weight, sigma, norm) - skin_light(source_l, weight, sigma, norm)
    return np.asarray(np.clip(diff, -MAX_SHADING, MAX_SHADING) * (region > 0), np.float32)


def tint_difference(
    target_lab: NDArray[np.float32],
    source_lab: NDArray[np.float32],
    weight: NDArray[np.float32],
    sigma: float,
    region: NDArray[np.float32],
) -> NDArray[np.float32]:
    """(h, w, 2): the target skin's broad tint (Lab a, b, low-passed over its skin as
    :func:`skin_light` does the lightness) minus the source's, bounded by ``MAX_TINT``,
    over ``region``. A painted cheek's rouge or a selfie's flushed cheeks, carried onto
    a face whose skin is even, read as a pink disc with an edge; the template's own
    flush, where it has one, is its light and complexion in this frame."""
    # Low-passed images are divided and subtracted at the low-pass's own resolution,
    # and the difference enlarged once.
    size = weight.shape[:2]
    norm = lowpass_small(weight, sigma) + 1e-3  # the same weight for both faces
    tint = []
    for lab in (target_lab, source_lab):
        first = enlarged(lowpass_small(lab[:, :, 0] * weight, sigma) / norm, size)
        w = _below(first, lab[:, :, 0], weight)
        small = lowpass_small(np.dstack([lab[:, :, 1] * w, lab[:, :, 2] * w, w]), sigma)
        tint.append(small[:, :, :2] / (small[:, :, 2:] + 1e-3))
    diff = enlarged(np.clip(tint[0] - tint[1], -MAX_TINT, MAX_TINT), size)
    diff[region <= 0] = 0.0
    return diff


def unlit_spread(light: NDArray[np.float32], skin: NDArray[np.bool_], sigma: float) -> float:
    """The standard deviation of ``light`` over the ``skin`` pixels once the skin's own
    lighting (:func:`skin_light` at ``sigma``) is taken out: the contrast of a face's
    features and detail apart from its light. A face lit from one side spreads twice
    as far as the same face lit evenly; with its lighting taken out it does not."""
    if not skin.any():
        return 0.0
    rest = light - skin_light(light, skin.astype(np.float32), sigma)
    return float(rest[skin].std())


def face_unlit_spread(frame: Frame, lm: NDArray[np.float32], scale: float = SCALE) -> float:
    """:func:`unlit_spread` of a face's skin (:func:`server.vision.masks.skin_mask`)
    in a frame, its lighting blurred at ``scale`` inter-ocular distances. Stored with a
    template's analysis: a change here needs a new ``ANALYSIS_VERSION``."""
    lab, skin = face_skin(frame, lm)
    return unlit_spread(lab[:, :, 0], skin, scale * shape.interocular(lm))
