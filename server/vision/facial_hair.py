"""A selfie's moustache and beard (dark hair on the face below the nose), and the
lightness contrast it keeps through the colour transfer.

The transfer scales the selfie's lightness about its skin's mean by the template's
spread over the selfie's. For a clip lit flat and evenly the gain falls to its floor
(0.4): right for the selfie's left-over light, wrong for a moustache, which is dark by
its own colour. Flattened, it read as a grey smudge round the template's mouth, not as
hair. Facial hair keeps a gain of at least ``HAIR_GAIN``, applied after the transfer
(deepening it in the texture beforehand, as :mod:`server.vision.feature_contrast` does
for brows, cannot: a moustache would need a lightness below black).

Hair is told from skin by its lightness against the skin above the nose (cheeks and
forehead, which facial hair does not reach) and by its colour: lips under a
moustache, where dlib often puts the mouth's points on the moustache itself, are as
dark but redder than the skin, and are left out; so are the nostrils.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.vision import shape
from server.vision.face_parts import feature_mask
from server.vision.masks import skin_mask

DEPTH = 25.0  # Lab L below the upper face's median skin from which a pixel is hair
REDDER = 5.0  # Lab a* above the skin's median from which a dark pixel is lips, not hair
SOFT = 0.03  # the weight's soft edge, share of the eye distance
FROM_NOSE = 0.05  # the zone starts this far above the nose's tip, share of eye distance
LEAST = 0.02  # less than this share of the skin found dark is no facial hair
# The least lightness gain facial hair takes (skin may take less). At 0.8 a moustache
# looked darkest, but its motion with a talking mouth raised s12 x d12's flicker from
# 1.09 to 1.22; at 0.6 it still reads as hair, at 1.14 (see BENCHMARKS.md).
HAIR_GAIN = 0.6


def facial_hair(lab: NDArray[np.float32], lm: NDArray[np.floating]) -> NDArray[np.bool_]:
    """Where the face texture ``lab`` (Lab; ``lm``: its 68 points) shows facial hair:
    skin-mask pixels below the nose's tip, far darker than the skin above it and no
    redder than that skin, if they cover at least ``LEAST`` of the skin."""
    pts = np.asarray(lm, np.float32)[:68]
    skin = skin_mask(lab.shape[:2], pts)
    iod = shape.interocular(pts)
    eyes = pts[shape.EYE_R].mean(0) - pts[shape.EYE_L].mean(0)
    down = np.array([-eyes[1], eyes[0]]) / max(float(np.linalg.norm(eyes)), 1e-6)
    yy, xx = np.indices(lab.shape[:2], dtype=np.float64)
    below = (xx - pts[33, 0]) * down[0] + (yy - pts[33, 1]) * down[1]
    upper = skin & (below < -2 * FROM_NOSE * iod)
    if int(upper.sum()) < 16:
        return np.zeros(lab.shape[:2], bool)
    light = float(np.median(lab[:, :, 0][upper]))
    red = float(np.median(lab[:, :, 1][upper]))
    hair = (lab[:, :, 0] < light - DEPTH) & (lab[:, :, 1] < red + REDDER)
    nostrils = feature_mask(lab.shape[:2], pts, parts=("nostrils",)) > 0.5
    found = skin & (below > -FROM_NOSE * iod) & hair & ~nostrils
    if found.sum() < LEAST * skin.sum():  # a shadow's few dark pixels
        return np.zeros(lab.shape[:2], bool)
    return np.asarray(found, bool)


def soft(hair: NDArray[np.bool_], iod: float) -> NDArray[np.float32]:
    """``hair`` as a weight with a soft edge (strands thin out at its border)."""
    out = cv2.GaussianBlur(hair.astype(np.float32), (0, 0), max(0.5, SOFT * iod))
    return np.asarray(out, np.float32)


def keep_depth(
    lab: NDArray[np.float32],
    light: NDArray[np.float32],
    hair: NDArray[np.float32],
    mean: float,
    gain: float,
) -> None:
    """Give the facial hair (weight ``hair``) of a colour-transferred face ``lab`` (in
    place) a lightness gain of at least ``HAIR_GAIN`` about the skin's ``mean`` (the
    transfer applied ``gain`` to the texture's lightness ``light``), its chromaticity
    kept."""
    extra = max(HAIR_GAIN - gain, 0.0)
    if extra <= 0.0:
        return
    before = lab[:, :, 0] + 16.0
    lab[:, :, 0] += extra * np.minimum(light - mean, 0.0) * hair
    lab[:, :, 1:] *= (np.maximum(lab[:, :, 0] + 16.0, 1.0) / np.maximum(before, 1.0))[..., None]
