"""The identity's texture for the classic engine: its feathered face mask, and the
weight that leaves hair and background out (its adaptation to one template track is
:mod:`.classic_track`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame, IdentityData
from server.vision import color, eye_state, glasses, hair, masks, pose, shape
from server.vision.fill import painted_over, smooth_fill
from server.vision.outline import OUTLINE

# Beside the hair a face's edge is often in its shadow: darker than this share of the
# cheeks' lightness, it is painted over with the hair, or it would lay a dark band
# along the template's (often lit) cheek.
_EDGE_DARK = 0.65
# The hair's soft edge painted out with it, share of the inter-ocular distance.
HAIR_EDGE = 0.04
# A face whose colour (Lab a, b) varies less than this over it is a greyscale or toned
# photo: measured 0.01 on a greyscale portrait, 1.9 and more on colour selfies,
# paintings and hand-coloured prints.
COLOURLESS_SPREAD = 1.0


class Balance(NamedTuple):
    """The texture's colour traded for one track's skin light (see
    color.white_balanced), made once per track."""

    chroma: NDArray[np.float32]  # (h, w, 2) the texture's chromaticity under that light
    light: NDArray[np.float32]  # (2,) that light's own chromaticity
    weight: float  # how much of the trade to use (color.balance_weight)


@dataclass
class ClassicFace:
    """An identity prepared for this engine (once per render)."""

    texture_lab: NDArray[np.float32]
    points: NDArray[np.float32]  # (76, 2) in texture pixels
    alpha: NDArray[np.float32]  # texture-space feathered face mask
    stats: NDArray[np.float32]  # (2, 3) Lab mean/std of the face skin
    mouth_open: bool = False  # the selfie's lips are apart (expression, not identity)
    template_eyes: bool = False  # the selfie's eyes cannot serve: the template's are kept
    skin: NDArray[np.float32] | None = None  # unblurred skin weight (see bleed_skin)
    colourless: bool = False  # a greyscale photo: its colour is the template's (see below)
    filled: NDArray[np.float32] | None = None  # painted in (the selfie's hair), not its own
    # the selfie wore glasses (painted out): its eyes are not deepened, or the paint's
    # remnants of the rims would be too (see server.vision.feature_contrast)
    glasses: bool = False
    balance: Balance | None = None  # per track: its colour in the track's skin light
    beard: NDArray[np.float32] | None = None  # facial hair (soft weight), None: none found
    light_spread: float = 0.0  # the skin's L spread without its light (shading.unlit_spread)


def colourless(lab: NDArray[np.float32], alpha: NDArray[np.float32]) -> bool:
    """Whether the face (Lab texture, weight ``alpha``) has no colour of its own. A
    colour transfer would give all of it the skin's hue, the eyes' whites and the lips
    included (red eyes, brown lips); the template's own colour, pixel by pixel under
    the swapped face, puts white in the eyes and red in the lips instead."""
    inside = alpha > 0.5
    if not inside.any():
        return False
    spread = lab[..., 1:][inside].std(axis=0)
    return bool(spread.mean() < COLOURLESS_SPREAD)


def eyes_unusable(identity: IdentityData) -> bool:
    """The selfie's eyes cannot serve, so the template's are kept: shut or winking
    (read from the picture, see :mod:`eye_state`; closed lids would stay closed on
    every frame) or blurred away (its selfie was found blurry at upload: eyes become
    smears of colour, and of a whole face they show blur most)."""
    tex, lm = identity.texture, identity.landmarks
    worn = glasses.glasses_evidence(tex, lm) >= glasses.EVIDENCE_AT
    yaw = pose.yaw_degrees(pose.fit(lm))
    if eye_state.shut(eye_state.edge_ratio(tex, lm), glasses=worn, yaw=yaw):
        return True
    chosen = [s for s in identity.selfies if s.used_as_texture]
    return any(w.get("code") == "blurry" for s in chosen for w in s.warnings)


def texture_mask(
    size: tuple[int, int], pts: NDArray[np.float32], iod: float, feather: float
) -> NDArray[np.float32]:
    """Feathered face mask in texture space: full from the brows down, fading out
    towards the forehead row so template hair and hairlines are not pasted over.

    Feathering here, on the texture, keeps the edge attached to the face as it moves
    (less flicker than a mask redrawn around each frame's outline)."""
    mask = np.zeros(size, np.float32)
    cv2.fillPoly(mask, [np.round(pts[OUTLINE] * 4).astype(np.int32)], 1.0, cv2.LINE_AA, shift=2)
    k = max(1, int(round(feather * iod)))
    mask = np.asarray(cv2.erode(mask, np.ones((k, k), np.uint8)), np.float32)
    mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), sigmaX=k * 0.8), np.float32)
    # The texture is upright, so "above the brows" is a band of rows.
    brow_y = float(pts[17:27, 1].min())
    top_y = float(pts[68:, 1].min())
    rows = np.arange(size[0], dtype=np.float32)
    ramp = np.clip((rows - top_y) / max(brow_y - top_y, 1.0), 0.0, 1.0)
    return mask * (ramp * ramp * (3 - 2 * ramp))[:, None]


def skin_weight(
    lab: NDArray[np.float32],
    skin: NDArray[np.bool_],
    lm: NDArray[np.float32],
    hair: NDArray[np.float32],
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Texture-space weight that fades out pixels far in colour from the face's skin
    (cheeks and nose), above the eyes and along the face's outline: bangs, a hat,
    the hair at the temples, or the background beside a turned head would otherwise
    be pasted onto the template. The features' own area (brows, eyes, nose, mouth and
    what lies between, a moustache included) is always kept; ``hair`` (see
    :func:`paint_out_hair`) never is. Returns the weight unblurred, and the same weight
    feathered for the face's mask."""
    weight = _skin_likeness(lab, skin)
    iod = shape.interocular(lm)
    keep = _features_area(lab.shape[:2], lm, iod)
    weight = np.where(keep > 0, 1.0, weight).astype(np.float32)
    weight *= 1.0 - hair
    return weight, np.asarray(cv2.GaussianBlur(weight, (0, 0), max(1.0, iod * 0.06)), np.float32)


def _skin_likeness(lab: NDArray[np.float32], skin: NDArray[np.bool_]) -> NDArray[np.float32]:
    """How much each pixel looks like the skin sampled at ``skin``: near its colour
    (:func:`server.vision.color.skin_distance`) and not much darker than it. Shading
    keeps skin's colour and seldom takes away a third of its light (the selfie's side
    light is evened out before); the shadow in the hair beside a cheek, or the hair
    itself, often does."""
    d2, centre = color.skin_distance(lab, lab[skin])
    colour = np.clip((25.0 - d2) / (25.0 - 9.0), 0.0, 1.0)
    ratio = lab[:, :, 0] / max(float(centre[0]), 1.0)
    light = np.clip((ratio - 0.55) / (0.75 - 0.55), 0.0, 1.0)
    return np.asarray(colour * light, np.float32)


def bleed_skin(face: ClassicFace) -> ClassicFace:
    """The texture with what its skin weight leaves out (hair, background) replaced by
    the skin beside it (:func:`server.vision.fill.smooth_fill`).

    The mask's feather still gives such pixels some weight; left as they are, dark hair
    mixed half and half into a pale template cheek reads as a grey arc along the face.
    Done once the texture's detail is matched: measured with the hair's edges, as the
    template's face is, the selfie's detail stays comparable.
    """
    if face.skin is None:
        return face
    lab, weight = face.texture_lab, face.skin
    iod = shape.interocular(face.points[:68])
    fill = smooth_fill(lab, weight, (0.5 * iod, 0.1 * iod))
    w = weight[..., None]
    return replace(face, texture_lab=np.asarray(lab * w + fill * (1.0 - w), np.float32))


def paint_out_hair(
    tex: Frame, lm: NDArray[np.float32]
) -> tuple[Frame, NDArray[np.float32], NDArray[np.float32]]:
    """The selfie's hair over its face's edge (down to the mouth corners: below them a
    beard is the face's own) filled with the skin's colour inside the face's outline;
    the hair left beyond it; and where the texture was filled.

    dlib's outline often runs over the hair beside a turned cheek. Cut out instead of
    painted over, such hair would leave the template's own cheek, lit differently,
    showing as an arc between the swapped face and its outline."""
    hair_px = hair.hair_mask(tex, lm.astype(np.float64), down_to=48, dark=_EDGE_DARK)
    moustache = _moustache_zone(tex.shape[:2], lm)
    hair_px *= ~moustache  # a beard joined to the hair stays
    inside = masks.hull_mask(tex.shape[:2], lm[0:27]).astype(bool)
    inside[: int(lm[17:27, 1].min())] = False  # above the brows the mask fades anyway
    iod = shape.interocular(lm)
    # The hair's soft edge (lighter than the threshold, darker than skin) goes too:
    # left, it stayed a thin dark line between the cheek and the fill.
    near_hair = masks.grown(hair_px > 0, max(1, int(round(HAIR_EDGE * iod))))
    holes = near_hair & inside & ~moustache
    if holes.any():
        # Filled from the skin around, not inwards from the hole's border: a painter
        # would draw in the cheek's shadowed edge beside the hair, a brown patch.
        skin = masks.skin_mask(tex.shape[:2], lm) & ~near_hair
        tex = painted_over(tex, holes, skin, (0.3 * iod, 0.08 * iod))
    return tex, (hair_px * ~inside).astype(np.float32), holes.astype(np.float32)


def _moustache_zone(size: tuple[int, int], lm: NDArray[np.float32]) -> NDArray[np.bool_]:
    """The lips and what lies between them and the nose, with a margin: a moustache or
    beard there is the face's own, even where it joins the hair at the sideburns."""
    zone = masks.hull_mask(size, np.concatenate([lm[31:36], lm[48:60]]))
    return masks.grown(zone, max(1, int(0.15 * shape.interocular(lm))))


def _features_area(size: tuple[int, int], lm: NDArray[np.float32], iod: float) -> NDArray[np.uint8]:
    """Where the texture is kept whatever its colour: the features' hull (dilated) below
    the eyes, and the eyes themselves."""
    r = max(1, int(0.15 * iod))
    keep = masks.grown(masks.hull_mask(size, lm[17:68]), r).astype(np.uint8)
    eyes_y = float(lm[36:48, 1].mean())
    keep[: int(eyes_y)] = 0  # above the eyes only skin counts ...
    # ... but the eyes themselves, lids and lashes, and the brows over them always do:
    # faded by their colour (iris, lashes, dark brows), the template's would show
    # through the selfie's.
    for brow, eye in ((lm[17:22], lm[shape.EYE_L]), (lm[22:27], lm[shape.EYE_R])):
        region = cv2.convexHull(np.round(np.concatenate([brow, eye])).astype(np.int32))
        cv2.fillConvexPoly(keep, region, 1)
        cv2.polylines(keep, [region], True, 1, max(1, 2 * r // 3))
    return keep
