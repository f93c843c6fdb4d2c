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
from server.vision.color import MAX_SHADING, lowpass, to_lab
from server.vision.masks import face_skin

DARK = 6.0  # Lab L below the local skin estimate at which a pixel counts half as skin
SCALE = 0.3  # the lighting's blur (Gaussian sigma), share of the inter-ocular distance


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
    first = lowpass(light * weight, sigma) / norm
    below = np.maximum(first - light, 0.0) / DARK
    w = np.asarray(weight / (1.0 + below * below), np.float32)
    return np.asarray(lowpass(light * w, sigma) / (lowpass(w, sigma) + 1e-3), np.float32)


def shading_difference(
    target_bgr: NDArray[np.float32],
    source_l: NDArray[np.float32],
    weight: NDArray[np.float32],
    sigma: float,
    region: NDArray[np.float32],
) -> NDArray[np.float32]:
    """The target's skin lighting minus the source's (Lab L units, bounded), over
    ``region``; ``weight``: where either face shows skin (features left out)."""
    target_l = to_lab(np.clip(target_bgr, 0, 255).astype(np.uint8))[:, :, 0]
    norm = lowpass(weight, sigma) + 1e-3  # the same weight for both faces
    diff = skin_light(target_l, weight, sigma, norm) - skin_light(source_l, weight, sigma, norm)
    return np.asarray(np.clip(diff, -MAX_SHADING, MAX_SHADING) * (region > 0), np.float32)


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
