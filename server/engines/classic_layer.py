"""The classic engine's face layer for one frame: the selfie's texture warped onto the
target mesh, colour-matched and lit like the template face, with its blend weights
(the template's mouth interior, eyes and occluders left in front); and its eyes: lids
painted where the template's shut, irises moved where the template's look.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, NamedTuple

import cv2
import numpy as np
from numpy.typing import NDArray

from server.engines.classic_track import white_balanced
from server.types import Box, Frame
from server.vision import (
    color,
    eyeball,
    face_parts,
    facial_hair,
    gaze,
    glasses,
    masks,
    seam,
    shading,
    shape,
)
from server.vision.lids import paint_shut_lid
from server.vision.outline import OUTLINE
from server.vision.warp import MeshRaster, remap, triangle_affines

# a template eye this closed (1 - openness) starts the painted lid over the swapped one,
# as the motion animator paints its blinks
PAINT_FROM = 0.45

if TYPE_CHECKING:
    from server.engines.classic_options import ClassicOptions, TrackPlan
    from server.engines.classic_texture import ClassicFace


def face_layer(
    o: ClassicOptions,
    raster: MeshRaster,
    dst: NDArray[np.float64],
    target: NDArray[np.float64],
    lm: NDArray[np.float32],
    under: NDArray[np.float32],
    plan: TrackPlan,
    index: int,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The selfie's face (BGR floats) over ``raster``'s box and its blend weights."""
    face, box = plan.face, raster.box
    iod = shape.interocular(lm)
    lab, alpha = _warped(o, raster, dst, target, under, plan, index, iod)
    # A greyscale selfie's lips say nothing of their colour (red lips print dark).
    template_lips = o.template_lips == "always" or (
        o.template_lips == "open" and (face.mouth_open or face.colourless)
    )
    mouth = face_parts.mouth_mask(box, target, iod)
    if o.tame_lips and not template_lips:
        lab = face_parts.tamed_lips(lab, under, mouth, alpha)
    rgb = color.lab_to_bgr(lab)
    if plan.blur[index] > 0.3:
        rgb = np.asarray(cv2.GaussianBlur(rgb, (0, 0), float(plan.blur[index])), np.float32)
    if plan.seams is not None:
        fix = seam.correction(rgb, alpha, plan.seams[index], box, dst[OUTLINE], target[17:68], iod)
        if fix is not None:
            rgb += fix
    # Keep the template's mouth interior (and eyes, if chosen).
    if template_lips:
        rgb = face_parts.with_template_mouth(rgb, under, mouth, alpha)
    _keep_in_front(o, alpha, target, lm, plan, index, box)
    return rgb, alpha


def _warped(
    o: ClassicOptions,
    raster: MeshRaster,
    dst: NDArray[np.float64],
    target: NDArray[np.float64],
    under: NDArray[np.float32],
    plan: TrackPlan,
    index: int,
    iod: float,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The selfie's texture (Lab) on the target mesh, colour-matched and shaded like the
    template face, and its feathered mask."""
    face, box = plan.face, raster.box
    aff = np.zeros((len(plan.triangles), 2, 3))
    aff[plan.inner] = triangle_affines(face.points, dst, plan.triangles[plan.inner])
    tx, ty = raster.restricted(plan.inner).maps(aff)
    alpha = remap(face.alpha, tx, ty, cv2.BORDER_CONSTANT)
    # A thin output-space feather as well: where the texture is squeezed (the far
    # side of a turned selfie) its own feather would end in a hard edge.
    alpha *= masks.feathered_polygon(box, dst[OUTLINE], 0.06 * iod)
    gains = (o.light_gain_min, o.light_gain_max) if o.shading > 0 else None
    if plan.light is not None and not np.isnan(plan.light[index]):
        gains = (float(plan.light[index]),) * 2  # the lightness gain, measured unlit
    texture, chroma = _sampled(plan, index, tx, ty, dst, box)
    lab = color.transfer(texture, face.stats, plan.colour[index], light_gain=gains)
    if face.balance is not None and chroma is not None:
        # the colour balanced once per track, plus the light's drift since
        drift = color.chromaticity(plan.colour[index][0]) - face.balance.light
        color.with_chromaticity(lab, chroma + drift, face.balance.weight)
    if face.colourless:
        _features_colour(lab, under, target, box, iod)
    beard = None if face.beard is None else remap(face.beard, tx, ty, cv2.BORDER_CONSTANT)
    if beard is not None:
        gain = float(color.gains(face.stats, plan.colour[index], light_gain=gains)[0])
        facial_hair.keep_depth(lab, texture[:, :, 0], beard, float(face.stats[0, 0]), gain)
    _lit_like_template(o, box, target, under, lab, alpha, iod, beard)
    return lab, alpha


def _sampled(
    plan: TrackPlan,
    index: int,
    tx: NDArray[np.float32],
    ty: NDArray[np.float32],
    dst: NDArray[np.float64],
    box: Box,
) -> tuple[NDArray[np.float32], NDArray[np.float32] | None]:
    """The texture (Lab) and its white-balanced chromaticity (None without a balance)
    sampled at ``tx``, ``ty``, the irises moved where the template's look."""
    face, gaze_plan = plan.face, plan.gaze
    texture = remap(face.texture_lab, tx, ty)
    chroma = None if face.balance is None else remap(face.balance.chroma, tx, ty)
    if gaze_plan is not None:
        eyes = [dst[eye] - (box.left, box.top) for eye in (shape.EYE_L, shape.EYE_R)]
        shift = gaze_plan.shifts[index]
        eyeball.look(texture, gaze_plan.eyeball.image, shift, tx, ty, eyes)
        if chroma is not None and gaze_plan.chroma is not None:
            eyeball.look(chroma, gaze_plan.chroma, shift, tx, ty, eyes)
    return texture, chroma


def _features_colour(
    lab: NDArray[np.float32],
    under: NDArray[np.float32],
    target: NDArray[np.float64],
    box: Box,
    iod: float,
) -> None:
    """A greyscale selfie's eyes and lips in the template's colour there (in place). The
    colour transfer gives all of such a face the skin's hue: eyes' whites turn red and
    lips brown. The skin keeps the transferred hue: the template's own, pixel by pixel,
    would bring its eye shadow and brows wherever the two faces' features differ."""
    soft = 0.03 * iod
    where = masks.polygon_mask(box, target[shape.OUTER_LIPS], soft)
    for eye in (shape.EYE_L, shape.EYE_R):
        where = np.maximum(where, masks.polygon_mask(box, target[eye], soft))
    ab = cv2.cvtColor(under * (1.0 / 255.0), cv2.COLOR_BGR2Lab)[:, :, 1:]
    lab[:, :, 1:] += where[..., None] * (ab - lab[:, :, 1:])


def _lit_like_template(
    o: ClassicOptions,
    box: Box,
    target: NDArray[np.float64],
    under: NDArray[np.float32],
    lab: NDArray[np.float32],
    alpha: NDArray[np.float32],
    iod: float,
    beard: NDArray[np.float32] | None = None,
) -> None:
    """``lab`` (in place) with the template's shading (Lab L) and skin tint (a, b) in
    place of the selfie's, each estimated over the skin under the layer's weight: hair
    or background the mask leaves out of the selfie must not pull its estimate, nor its
    features or facial hair (``beard``, on the box)."""
    sigma = o.shading_scale * iod
    if not o.skin_shading:  # the plain low-pass, features included; no tint
        if o.shading > 0:
            lab[:, :, 0] += o.shading * color.shading_difference(under, lab[:, :, 0], alpha, sigma)
        return
    if o.shading <= 0 and o.skin_tint <= 0:
        return
    skin = _skin(alpha, target, box, beard)
    under_lab = color.to_lab(np.clip(under, 0, 255).astype(np.uint8))
    if o.shading > 0:
        light = shading.shading_difference(under_lab[:, :, 0], lab[:, :, 0], skin, sigma, alpha)
        lab[:, :, 0] += o.shading * light
    if o.skin_tint > 0:
        lab[:, :, 1:] += o.skin_tint * shading.tint_difference(under_lab, lab, skin, sigma, alpha)


def _skin(
    alpha: NDArray[np.float32],
    target: NDArray[np.float64],
    box: Box,
    beard: NDArray[np.float32] | None,
) -> NDArray[np.float32]:
    """The layer's weight ``alpha`` over its skin: the features the landmarks
    ``target`` place, and facial hair (``beard``), left out."""
    skin = 1.0 - face_parts.feature_mask(alpha.shape, target, (box.left, box.top))
    if beard is not None:
        skin *= 1.0 - beard
    return np.asarray(alpha * skin, np.float32)


def _keep_in_front(
    o: ClassicOptions,
    alpha: NDArray[np.float32],
    target: NDArray[np.float64],
    lm: NDArray[np.float32],
    plan: TrackPlan,
    index: int,
    box: Box,
) -> None:
    """Take the template's mouth interior (and eyes, if chosen) and its occluders
    (glasses) out of the face layer's weights ``alpha`` (in place)."""
    height = shape.face_height(lm)
    if o.keep_mouth:
        alpha *= 1.0 - masks.polygon_mask(box, target[60:68], 0.02 * height)
    if plan.face.template_eyes:  # the selfie's cannot serve (shut, blurred): lids too
        iod = shape.interocular(lm)
        for eye in (shape.EYE_L, shape.EYE_R):
            alpha *= 1.0 - masks.polygon_mask(box, _with_lids(target[eye], iod), 0.04 * iod)
    elif o.keep_eyes or plan.template_eyes:
        for eye in (shape.EYE_L, shape.EYE_R):
            alpha *= 1.0 - masks.polygon_mask(box, target[eye], 0.015 * height)
    if plan.occluder is not None:  # the template's glasses stay in front
        alpha *= 1.0 - glasses.mask_in_box(plan.occluder[index], target, box)


# Each eye point's move (share of the inter-ocular distance) to take in the lids: out
# at the corners, up to the crease above, a little down below (dlib's eye order:
# image-left corner, two upper, image-right corner, two lower).
_LIDS = np.array([(-0.04, 0.0), (0.0, -0.06), (0.0, -0.06), (0.04, 0.0), (0.0, 0.03), (0.0, 0.03)])


def _with_lids(eye: NDArray[np.float64], iod: float) -> NDArray[np.float64]:
    """The six points of one eye grown to take in both lids."""
    return np.asarray(eye, np.float64) + _LIDS * iod


def shut_eyes(image: Frame, target: NDArray[np.float64], plan: TrackPlan, index: int) -> None:
    """Lids painted (in place) over the swapped eyes where the template's are shut:
    squeezed shut by the warp, the selfie's open eye is a smear of white, iris and
    lashes. Not where the template's own eyes are kept. ``target``: the output
    landmarks, in ``image``'s pixels."""
    if plan.eyes_open is None or plan.template_eyes or plan.face.template_eyes:
        return
    for k, eye in enumerate((shape.EYE_L, shape.EYE_R)):
        closed = 1.0 - float(plan.eyes_open[index, k])
        amount = float(np.clip((closed - PAINT_FROM) / (1.0 - PAINT_FROM), 0.0, 1.0))
        paint_shut_lid(image, np.asarray(target[eye], np.float64), amount)


class Gaze(NamedTuple):
    """The selfie's eyes split for moving their irises (:class:`eyeball.Eyeball`), that
    picture's colour traded for the track's light where the face's is (see
    classic_track.white_balanced), and per frame and eye the texture offset that puts
    each iris where the template's is."""

    eyeball: eyeball.Eyeball
    chroma: NDArray[np.float32] | None
    shifts: NDArray[np.float64]


def follow_gaze(
    face: ClassicFace,
    balanced: ClassicFace,
    reads: NDArray[np.floating],
    present: list[int],
    openness: NDArray[np.float64],
    colour: NDArray[np.float32],
) -> Gaze | None:
    """How the selfie's irises follow the template's (see :mod:`server.vision.gaze`):
    ``face`` is the track's texture before its white balance, ``balanced`` after it,
    ``reads`` the template's iris places per frame (gaze.frame_reads), ``colour`` the
    track's Lab statistics; None where the template's gaze cannot be read or the
    selfie's irises cannot move."""
    read = gaze.track_gaze(reads, present, openness)
    if read is None:
        return None
    split = eyeball.Eyeball(face.texture_lab, face.points)
    if np.isnan(split.across).all():
        return None
    chroma = None
    if balanced.balance is not None:  # balanced again where the eyes were split only
        chroma = balanced.balance.chroma.copy()
        for box in split.boxes:
            part = white_balanced(replace(face, texture_lab=split.image[box]), colour, present)
            if part.balance is not None:
                chroma[box] = part.balance.chroma
    return Gaze(split, chroma, split.shifts(read))
