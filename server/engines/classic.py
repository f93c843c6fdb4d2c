"""The classic engine: landmark-driven warping, colour matching and feathered blending.

Needs no downloads: everything comes from dlib's 68 landmarks (template tracks are
precomputed offline; the identity's texture and landmarks at upload).

Per frame, for a template face with landmarks T:
1. target shape = T + the identity's proportions (selfie shape minus the template's
   reference shape, in a pose-free frame), so the face keeps the selfie's geometry
   while following the template's pose and expression (the selfie's eyelids open
   and close in proportion to the template's, so blinks and winks carry over);
2. the template is reshaped inside a tight ring around the face to that shape
   (outside the ring nothing moves);
3. the selfie texture is warped onto the target mesh (forehead included), colour-
   matched to the template face (statistics smoothed over ~9 frames), and blended
   with a feathered mask; the template's mouth interior is kept where it opens.

Before planning, the track's landmarks are checked against the picture's own motion
(:mod:`server.vision.track_check`): frames where dlib placed a face beside the head
get landmarks carried from their neighbours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from numpy.typing import NDArray

from server.engines import small_faces
from server.engines.base import SwapResult
from server.gif_templates.occluders import OCCLUDER, occluder_for_render
from server.types import Frame, IdentityData
from server.vision import (
    color,
    detail,
    face_parts,
    glasses,
    masks,
    pose,
    relight,
    shading,
    shape,
    sharpen,
    symmetry,
    track_check,
)
from server.vision.boxes import clip_box, intersect, points_box
from server.vision.warp import MeshRaster, remap, triangle_affines, triangulate

ENGINE_VERSION = 5  # bump when output changes, so identical requests are not reused
N_INNER = 68 + 8  # landmarks + forehead row
_OUTLINE = np.concatenate([np.arange(0, 17), np.arange(75, 67, -1)])  # jaw, forehead back
_LIP_PAIRS = {60: 48, 61: 50, 62: 51, 63: 52, 64: 54, 65: 56, 66: 57, 67: 58}
_CLOSING_PAIRS = ((61, 67), (62, 66), (63, 65), (37, 41), (38, 40), (43, 47), (44, 46))
_LOWER_LIP = np.array([55, 56, 57, 58, 59, 65, 66, 67])
_CHIN = np.arange(4, 13)
_CHIN_WEIGHT = np.array([0.25, 0.5, 0.75, 0.9, 1.0, 0.9, 0.75, 0.5, 0.25])


@dataclass(frozen=True)
class ClassicOptions:
    """Tunable choices, each measured on the devkit (see BENCHMARKS.md)."""

    shape_strength: float = 1.0  # how much of the selfie's proportions to carry over
    ring_margin: float = 0.08  # reshaping ring beyond the outline, share of face height
    max_jaw_shift: float = 0.08  # cap on jaw/forehead movement, share of face height
    keep_mouth: bool = True  # keep the template's mouth interior
    keep_eyes: bool = False  # keep the template's eyes (blinks) instead of the selfie's
    colour_window: int = 9  # frames over which template colour statistics are averaged
    feather: float = 0.12  # mask feather, share of the inter-ocular distance
    match_detail: bool = True  # soften a crisper selfie to the template face's detail
    skin_only_edges: bool = True  # leave the selfie's hair, hats and background out
    shading: float = 1.0  # how much of the template's own shading (lighting) to take
    shading_scale: float = 0.3  # its blur, share of the inter-ocular distance
    pose_aware: bool = True  # tell head turn from proportions with a 3D mean face
    follow_blinks: bool = True  # the selfie's eyelids open and close with the template's
    complete_turned: bool = True  # a turned selfie's far side mirrored from its near side
    check_track: bool = True  # landmarks out of step with the image's motion repaired
    enlarge_small: bool = True  # swap faces under small_faces.MIN_IOD px at a larger scale
    template_mouth: bool = True  # the mouth's shape from the template (not a smile's)
    # the lips' texture from the template, colour-matched: "open" only where the
    # selfie's lips are apart (its teeth or tongue would show), or always / never
    template_lips: str = "open"
    tame_lips: bool = True  # lips standing out far more than the template's toned down
    even_light: float = 1.0  # how much of the selfie's own side lighting to take out
    skin_shading: bool = True  # estimate shading on the skin only (no feature ghosts)
    restore_detail: bool = True  # sharpen a softer selfie to the template face's detail
    # bounds of the lightness contrast gain while the template's shading is applied:
    # the template's spread of lightness is mostly its lighting, which the shading
    # layer already brings, so a full gain would darken eyes and brows twice over
    light_gain_min: float = 0.4
    light_gain_max: float = 1.2


@dataclass
class ClassicFace:
    """An identity prepared for this engine (once per render)."""

    texture_lab: NDArray[np.float32]
    points: NDArray[np.float32]  # (76, 2) in texture pixels
    alpha: NDArray[np.float32]  # texture-space feathered face mask
    stats: NDArray[np.float32]  # (2, 3) Lab mean/std of the face skin
    mouth_open: bool = False  # the selfie's lips are apart (expression, not identity)


@dataclass
class TrackPlan:
    """One template face track prepared for one identity (once per render)."""

    delta: NDArray[np.float64]  # (68, 2) identity shape offsets, canonical space
    to_frame: dict[int, NDArray[np.float64]]  # canonical -> frame linear parts (2, 2)
    triangles: NDArray[np.int32]
    colour: NDArray[np.float32]  # (N, 2, 3) smoothed template Lab statistics
    inner: NDArray[np.bool_]  # triangles of the face mesh (not the reshaping ring)
    face: ClassicFace  # the identity's texture at about this track's scale
    blur: NDArray[np.float32]  # (N,) extra blur per frame, output px (motion-blurred frames)
    lid_gaps: NDArray[np.float64]  # (N, 4) identity offset gap per lid pair, canonical y
    occluder: NDArray[np.float32] | None = None  # (N, h, w) template occluders, canonical crop
    # landmarks that replace the track's on frames found out of step with the image
    repaired: dict[int, NDArray[np.float32]] = field(default_factory=dict)


class ClassicEngine:
    name = "classic"

    def __init__(self, options: ClassicOptions | None = None) -> None:
        self.options = options or ClassicOptions()

    # -- once per identity ----------------------------------------------------------------
    def prepare_identity(self, identity: IdentityData) -> ClassicFace:
        tex = glasses.remove_glasses(identity.texture, identity.landmarks)
        lm = identity.landmarks
        # Light first, on the face as taken: completing a turned face copies the near
        # side's shadows onto the far side, beside the original nose's lit side.
        if self.options.even_light > 0:
            tex = relight.even_light(tex, lm, self.options.even_light)
        if self.options.complete_turned:
            tex, lm = symmetry.complete_far_side(tex, lm)
        upright = _uncross(lm.astype(np.float64), np.array([0.0, 1.0]))
        pts = shape.with_forehead(upright.astype(np.float32))
        iod = shape.interocular(lm)
        alpha = _texture_mask(tex.shape[:2], pts, iod, self.options.feather)
        lab = color.to_lab(tex)
        skin = masks.skin_mask(tex.shape[:2], lm)
        if self.options.skin_only_edges:
            alpha *= _skin_weight(lab, skin, lm)
        mouth_open = face_parts.lips_apart(identity.landmarks) >= face_parts.LIPS_APART
        return ClassicFace(lab, pts, alpha, color.lab_stats(lab, skin), mouth_open)

    # -- once per track ------------------------------------------------------------------
    def plan_track(
        self,
        face: ClassicFace,
        landmarks: NDArray[np.float32],
        frames: Sequence[Frame],
        landmarks5: NDArray[np.float32] | None = None,
        features: Mapping[str, NDArray[np.floating]] | None = None,
    ) -> TrackPlan:
        """``landmarks``: (N, 68, 2) template track, NaN where absent (this engine works
        from the 68 points alone and ignores ``landmarks5``); ``features``: the
        template's precomputed per-frame face statistics (see
        :mod:`server.gif_templates.features`), computed here when missing."""
        feats = dict(features) if features is not None else {}
        repaired: dict[int, NDArray[np.float32]] = {}
        if self.options.check_track:
            landmarks, repaired = _checked_track(frames, landmarks, feats)
        present = [i for i in range(len(landmarks)) if not np.isnan(landmarks[i, 0, 0])]
        ref, to_canon = _reference_shape(landmarks, present)
        selfie = face.points[:68].astype(np.float64)
        a = shape.similarity(selfie[shape.STABLE], ref[shape.STABLE])
        aligned = shape.apply_affine(a, selfie)
        if self.options.pose_aware:
            # Compare the two shapes in the face's frontal plane, each with its own head
            # turn taken out, and turn the difference back into the template's pose.
            template_pose = pose.fit(ref)
            offsets = pose.frontal_offsets(aligned, pose.fit(aligned))
            offsets -= pose.frontal_offsets(ref, template_pose)
            delta = pose.to_image(self._identity_only(offsets, aligned, ref), template_pose)
        else:
            delta = self._identity_only(aligned - ref, aligned, ref)
        delta *= self.options.shape_strength
        topo = _open_features(ref)
        tris = triangulate(_mesh_points(topo, topo, self.options.ring_margin))
        stats = feats.get("colour_stats")
        if stats is None or stats.shape != (len(landmarks), 2, 3):
            stats = np.full((len(landmarks), 2, 3), np.nan, np.float32)
            for i in present:
                stats[i] = masks.face_colour_stats(frames[i], landmarks[i])
        to_frame = {i: np.linalg.inv(to_canon[i][:, :2]).astype(np.float64) for i in present}
        colour = color.smooth_stats(np.asarray(stats, np.float32), self.options.colour_window)
        iod = float(np.median([shape.interocular(landmarks[i]) for i in present]))
        scaled = _at_scale(face, iod / shape.interocular(face.points[:68]))
        blur = np.zeros(len(landmarks), np.float32)
        if self.options.match_detail:
            details = feats.get("detail")
            if details is None or details.shape != (len(landmarks),):
                details = np.full(len(landmarks), np.nan)
                for i in present:
                    details[i] = detail.face_detail(frames[i], landmarks[i])
            gain = self._light_gain(colour, scaled, present)
            scaled, blur = _match_detail(
                scaled, np.asarray(details), present, iod, gain, self.options.restore_detail
            )
        inner = np.asarray((tris < N_INNER).all(axis=1), bool)
        lid_gaps = _lid_gaps(delta, ref, landmarks, to_canon, present)
        occluder = occluder_for_render(feats, frames, landmarks)
        return TrackPlan(
            delta, to_frame, tris, colour, inner, scaled, blur, lid_gaps, occluder, repaired
        )

    def _light_gain(
        self, colour: NDArray[np.float32], face: ClassicFace, present: list[int]
    ) -> float:
        """The lightness contrast gain the colour transfer applies to this face."""
        o = self.options
        gain = float(np.nanmedian(colour[present, 1, 0]) / max(float(face.stats[1, 0]), 1e-3))
        low, high = (o.light_gain_min, o.light_gain_max) if o.shading > 0 else (0.4, 1.5)
        return float(np.clip(gain, max(low, 0.4), min(high, 1.5)))

    def _identity_only(
        self, offsets: NDArray[np.float64], selfie: NDArray[np.float64], ref: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Shape offsets (canonical space) without the selfie's expression, symmetric."""
        offsets = _neutral_expression(offsets, selfie, ref)
        if self.options.template_mouth:
            offsets = face_parts.template_mouth_offsets(offsets, ref)
        return shape.symmetric_offsets(offsets)

    # -- per frame -----------------------------------------------------------------------
    def describe(self) -> dict[str, object]:
        return {
            "engine": self.name,
            "version": ENGINE_VERSION,
            "models": ["dlib 68-point landmarks"],
        }

    def swap(
        self, frame: Frame, index: int, lm: NDArray[np.float32], face: ClassicFace, plan: TrackPlan
    ) -> SwapResult | None:
        """Swap the face with template landmarks ``lm`` in ``frame`` (in place); returns
        where pixels may have changed, or None when nothing was done."""
        lm = plan.repaired.get(index, lm)
        k = small_faces.scale_for(lm) if self.options.enlarge_small else 1.0
        if k > 1.0 and index in plan.to_frame:
            return small_faces.swap_enlarged(self._swap, frame, index, lm, face, plan, k)
        return self._swap(frame, index, lm, face, plan)

    def _swap(
        self, frame: Frame, index: int, lm: NDArray[np.float32], face: ClassicFace, plan: TrackPlan
    ) -> SwapResult | None:
        if index not in plan.to_frame or np.isnan(plan.colour[index, 0, 0]):
            return None
        delta = (
            _with_lid_gaps(plan.delta, plan.lid_gaps[index])
            if self.options.follow_blinks
            else plan.delta
        )
        target, src, dst = self._meshes(lm, delta, plan.to_frame[index])
        h, w = frame.shape[:2]
        box = clip_box(points_box(dst[N_INNER:], 1), w, h)
        # The face's own box, inside the ring's (a degenerate track can put points
        # outside their ring).
        inner = intersect(points_box(dst[:N_INNER], 1), box)
        if min(box.width, box.height, inner.width, inner.height) < 4:
            return None
        raster = MeshRaster.build(dst, plan.triangles, box)
        # 1. the template reshaped towards the target shape (the whole ring)
        reshaped = remap(frame, *raster.maps(triangle_affines(src, dst, plan.triangles)))
        # 2. the selfie's face on the target mesh, blended in (its own box only)
        sub = (
            slice(inner.top - box.top, inner.bottom - box.top),
            slice(inner.left - box.left, inner.right - box.left),
        )
        under = reshaped[sub].astype(np.float32)
        layer, alpha = self._face_layer(raster.crop(inner), dst, target, lm, under, plan, index)
        a = alpha[..., None]
        reshaped[sub] = np.clip(layer * a + under * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)
        covered = raster.inside
        roi = frame[box.top : box.bottom, box.left : box.right]
        np.copyto(roi, reshaped, where=covered[..., None])
        return SwapResult(box, covered)

    def _meshes(
        self, lm: NDArray[np.float32], delta: NDArray[np.float64], to_frame: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Target landmarks (the template's plus the identity's offsets in this frame's
        pose), and the source and destination meshes of the reshaping."""
        o = self.options
        t = lm.astype(np.float64)
        shift = _cap_outline(delta @ to_frame.T, o.max_jaw_shift * shape.face_height(lm))
        down = to_frame @ np.array([0.0, 1.0])
        target = _uncross(t + shift, down / max(float(np.linalg.norm(down)), 1e-9))
        src = _mesh_points(t, target, o.ring_margin)
        dst = _mesh_points(target, target, o.ring_margin)
        # The ring stays where it is, and so does the forehead row: the hairline is
        # where a moved background shows most, beyond the face's own outline.
        dst[68:] = src[68:]
        return target, src, dst

    def _face_layer(
        self,
        raster: MeshRaster,
        dst: NDArray[np.float64],
        target: NDArray[np.float64],
        lm: NDArray[np.float32],
        under: NDArray[np.float32],
        plan: TrackPlan,
        index: int,
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """The selfie's face (BGR floats) over ``raster``'s box and its blend weights."""
        o, face, box = self.options, plan.face, raster.box
        iod = shape.interocular(lm)
        aff = np.zeros((len(plan.triangles), 2, 3))
        aff[plan.inner] = triangle_affines(face.points, dst, plan.triangles[plan.inner])
        tx, ty = raster.restricted(plan.inner).maps(aff)
        alpha = remap(face.alpha, tx, ty, cv2.BORDER_CONSTANT)
        # A thin output-space feather as well: where the texture is squeezed (the far
        # side of a turned selfie) its own feather would end in a hard edge.
        alpha *= masks.feathered_polygon(box, dst[_OUTLINE], 0.06 * iod)
        gains = (o.light_gain_min, o.light_gain_max) if o.shading > 0 else None
        lab = color.transfer(
            remap(face.texture_lab, tx, ty), face.stats, plan.colour[index], light_gain=gains
        )
        if o.shading > 0:
            # Weighted by the mask: hair or background the mask leaves out of the
            # selfie must not pull the selfie's lighting estimate down.
            if o.skin_shading:
                skin = 1.0 - face_parts.feature_mask(alpha.shape, target, (box.left, box.top))
                lab[:, :, 0] += o.shading * shading.shading_difference(
                    under, lab[:, :, 0], alpha * skin, o.shading_scale * iod, alpha
                )
            else:
                lab[:, :, 0] += o.shading * color.shading_difference(
                    under, lab[:, :, 0], alpha, o.shading_scale * iod
                )
        template_lips = o.template_lips == "always" or (
            o.template_lips == "open" and face.mouth_open
        )
        mouth = face_parts.mouth_mask(box, target, iod)
        if o.tame_lips and not template_lips:
            lab = face_parts.tamed_lips(lab, under, mouth, alpha)
        rgb = color.lab_to_bgr(lab)
        if plan.blur[index] > 0.3:
            rgb = np.asarray(cv2.GaussianBlur(rgb, (0, 0), float(plan.blur[index])), np.float32)
        # Keep the template's mouth interior (and eyes, if chosen).
        height = shape.face_height(lm)
        if template_lips:
            rgb = face_parts.with_template_mouth(rgb, under, mouth, alpha)
        if o.keep_mouth:
            alpha *= 1.0 - masks.polygon_mask(box, target[60:68], 0.02 * height)
        if o.keep_eyes:
            for eye in (shape.EYE_L, shape.EYE_R):
                alpha *= 1.0 - masks.polygon_mask(box, target[eye], 0.015 * height)
        if plan.occluder is not None:  # the template's glasses stay in front
            alpha *= 1.0 - glasses.mask_in_box(plan.occluder[index], target, box)
        return rgb, alpha


def _checked_track(
    frames: Sequence[Frame],
    landmarks: NDArray[np.float32],
    feats: dict[str, NDArray[np.floating]],
) -> tuple[NDArray[np.float32], dict[int, NDArray[np.float32]]]:
    """The track with frames out of step with the image's motion repaired (see
    :mod:`server.vision.track_check`) or, where they cannot be, left out; the stored
    per-frame statistics of those frames are dropped from ``feats`` (in place) so they
    are measured again on the repaired landmarks."""
    repaired, lost = track_check.repair_track(frames, landmarks)
    if not repaired and not lost:
        return landmarks, repaired
    fixed = np.array(landmarks, np.float32, copy=True)
    for i, lm in repaired.items():
        fixed[i] = lm
    fixed[lost] = np.nan
    for key in ("colour_stats", "detail"):
        if key in feats and len(feats[key]) == len(fixed):
            values = np.array(feats[key], copy=True)
            for i in (*repaired, *lost):
                values[i] = _measured(key, frames[i], fixed[i])
            feats[key] = values
    if OCCLUDER in feats and len(feats[OCCLUDER]) == len(fixed):
        masks_ = np.array(feats[OCCLUDER], np.float32, copy=True)
        for i, lm in repaired.items():
            masks_[i] = glasses.recentred(masks_[i], landmarks[i], lm)
        feats[OCCLUDER] = masks_
    return fixed, repaired


def _measured(key: str, frame: Frame, lm: NDArray[np.float32]) -> NDArray[np.float32] | float:
    if np.isnan(lm[0, 0]):
        return np.nan
    if key == "detail":
        return detail.face_detail(frame, lm)
    return masks.face_colour_stats(frame, lm)


def _skin_weight(
    lab: NDArray[np.float32], skin: NDArray[np.bool_], lm: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Texture-space weight that fades out pixels far in colour from the face's skin
    (cheeks and nose), above the eyes and along the face's outline: bangs, a hat,
    the hair at the temples, or the background beside a turned head would otherwise
    be pasted onto the template. The features' own area (brows, eyes, nose, mouth and
    what lies between, a moustache included) is always kept."""
    px = lab[skin]
    mean = px.mean(0)
    cov = np.cov(px.T) + np.eye(3) * 4.0  # floor: flat painted skin has tiny variance
    d = lab - mean
    d2 = np.einsum("...i,ij,...j->...", d, np.linalg.inv(cov), d)
    weight = np.clip((25.0 - d2) / (25.0 - 9.0), 0.0, 1.0).astype(np.float32)
    iod = shape.interocular(lm)
    keep = masks.hull_mask(lab.shape[:2], lm[17:68]).astype(np.uint8)
    r = max(1, int(0.15 * iod))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    keep = np.asarray(cv2.dilate(keep, disk), np.uint8)
    eyes_y = float(lm[36:48, 1].mean())
    keep[: int(eyes_y)] = 0  # above the eyes only skin counts ...
    # ... but the eyes themselves, lids and lashes, always do: faded by their colour
    # (iris, lashes), the template's eyes would show through the selfie's.
    for eye in (shape.EYE_L, shape.EYE_R):
        cv2.fillPoly(keep, [np.round(lm[eye]).astype(np.int32)], 1)
        cv2.polylines(keep, [np.round(lm[eye]).astype(np.int32)], True, 1, max(1, 2 * r // 3))
    weight = np.where(keep > 0, 1.0, weight).astype(np.float32)
    return np.asarray(cv2.GaussianBlur(weight, (0, 0), max(1.0, iod * 0.06)), np.float32)


def _at_scale(face: ClassicFace, scale: float) -> ClassicFace:
    """The texture shrunk (area-averaged) to a bit above the template face's size.

    Bilinear sampling of a texture several times larger than the output aliases, and
    aliasing shimmers from frame to frame as the face moves: a mip level, in effect.
    """
    k = scale * 1.25
    if k >= 0.8:
        return face
    h, w = face.alpha.shape
    size = (max(8, round(w * k)), max(8, round(h * k)))
    kx, ky = size[0] / w, size[1] / h
    return replace(
        face,
        texture_lab=np.asarray(
            cv2.resize(face.texture_lab, size, interpolation=cv2.INTER_AREA), np.float32
        ),
        points=(face.points * np.array([kx, ky], np.float32)).astype(np.float32),
        alpha=np.asarray(cv2.resize(face.alpha, size, interpolation=cv2.INTER_AREA), np.float32),
    )


def _match_detail(
    face: ClassicFace,
    detail_per_frame: NDArray[np.floating],
    present: list[int],
    iod: float,
    gain: float,
    restore: bool = True,
) -> tuple[ClassicFace, NDArray[np.float32]]:
    """Soften the texture to the template face's fine detail, at the template's scale
    and after the colour transfer's lightness gain ``gain``: once for the clip's
    typical frame (the texture itself), and per frame for frames that are blurrier
    still (motion blur), as the extra Gaussian sigma returned per frame in output
    pixels. A sharp face moving over a motion-blurred clip looks pasted and flickers."""
    k = iod / shape.interocular(face.points[:68])  # texture px -> template px
    small = np.asarray(
        cv2.resize(face.texture_lab[:, :, 0], None, fx=k, fy=k, interpolation=cv2.INTER_AREA),
        np.float32,
    )
    mask = masks.hull_mask(small.shape[:2], face.points[:68] * k)
    small_l = small * gain * 2.55  # Lab L (0..100) to grey levels
    curve = detail.blur_curve(small_l, mask)
    base = detail.sigma_for(curve, float(np.nanmedian(detail_per_frame)))
    per_frame = np.zeros(len(detail_per_frame), np.float32)
    for i in present:
        sigma = detail.sigma_for(curve, float(detail_per_frame[i]))
        per_frame[i] = np.sqrt(max(0.0, sigma**2 - base**2))
    share = small_faces.detail_share(iod)  # small faces: the blur would merge the eyes
    base, per_frame = base * share, per_frame * share
    per_frame = np.convolve(per_frame, np.ones(3) / 3, mode="same").astype(np.float32)
    if base <= 0:
        if not restore:
            return face, per_frame
        target = sharpen.TARGET * float(np.nanmedian(detail_per_frame))
        amount = sharpen.amount_for(small_l, mask, target)
        lab = sharpen.sharpened_lab(face.texture_lab, sharpen.RADIUS / k, amount)
        return replace(face, texture_lab=lab), per_frame
    lab = np.asarray(cv2.GaussianBlur(face.texture_lab, (0, 0), base / k), np.float32)
    return replace(face, texture_lab=lab), per_frame


def _reference_shape(
    landmarks: NDArray[np.float32], present: list[int]
) -> tuple[NDArray[np.float64], dict[int, NDArray[np.float64]]]:
    """The track's typical shape in a pose-free frame, and each frame's similarity into it."""
    canon = np.array([[160 - 40, 140], [160 + 40, 140]], np.float64)
    to_canon: dict[int, NDArray[np.float64]] = {}
    for i in present:
        to_canon[i] = shape.similarity(np.stack(shape.eye_centres(landmarks[i])), canon)
    ref = np.median([shape.apply_affine(to_canon[i], landmarks[i]) for i in present], axis=0)
    for _ in range(2):  # refine on the expression-stable points
        for i in present:
            to_canon[i] = shape.similarity(landmarks[i][shape.STABLE], ref[shape.STABLE])
        ref = np.median([shape.apply_affine(to_canon[i], landmarks[i]) for i in present], axis=0)
    return ref, to_canon


def _neutral_expression(
    delta: NDArray[np.float64], selfie: NDArray[np.float64], ref: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Identity offsets without the selfie's mouth expression (canonical space, eyes
    level, so y is the face's vertical).

    The inner lips move with the outer lips next to them, so the lips' own outline
    (and thus the mouth interior) keeps the template's shape. How far the lips are
    apart is expression, which the template decides: the selfie's opening beyond the
    template's typical one is taken off the lower lip and the chin (the jaw drops with
    the lower lip); left in, a smiling selfie would keep its mouth open in every frame.
    """

    def opening(p: NDArray[np.float64]) -> float:
        return float((p[[67, 66, 65], 1] - p[[61, 62, 63], 1]).mean())

    d = delta.copy()
    for inner, outer in _LIP_PAIRS.items():
        d[inner] = delta[outer]
    extra = opening(selfie) - opening(ref)
    d[_LOWER_LIP, 1] -= extra
    d[_CHIN, 1] -= extra * _CHIN_WEIGHT
    return d


def _open_features(ref: NDArray[np.float64]) -> NDArray[np.float64]:
    """The reference shape with mouth and eyes pulled open, to triangulate on.

    Triangulating a closed mouth yields triangles that span the lip line and fold over
    as soon as the mouth opens; on an open mouth Delaunay gives lip bands and an
    interior that merely flattens when the mouth closes. Same for the eyelids.
    """
    p = ref.copy()
    c = (p[48] + p[54]) / 2
    w = float(np.linalg.norm(p[54] - p[48]))
    p[[61, 62, 63], 1] = c[1] - 0.12 * w
    p[[65, 66, 67], 1] = c[1] + 0.12 * w
    p[49:54, 1] = np.minimum(p[49:54, 1], c[1] - 0.25 * w)
    p[55:60, 1] = np.maximum(p[55:60, 1], c[1] + 0.25 * w)
    for eye in (shape.EYE_L, shape.EYE_R):
        e = p[eye]
        ec = e.mean(0)
        ew = float(np.linalg.norm(e[3] - e[0]))
        p[eye[[1, 2]], 1] = ec[1] - 0.18 * ew
        p[eye[[4, 5]], 1] = ec[1] + 0.18 * ew
    return p


def _uncross(pts: NDArray[np.float64], down: NDArray[np.float64]) -> NDArray[np.float64]:
    """Where a lower lip or lid point ends up above its upper partner, meet in the middle
    (a closed mouth or eye must not fold its triangles over)."""
    p = pts.copy()
    for upper, lower in _CLOSING_PAIRS:
        gap = float(np.dot(p[lower] - p[upper], down))
        if gap < 0:
            p[upper] += down * gap / 2
            p[lower] -= down * gap / 2
    return p


_LID_PAIRS = np.array([(37, 41), (38, 40), (43, 47), (44, 46)])  # upper, lower
_CLOSED_EYE = 0.4  # dlib's lid gap on a closed eye, share of the same eye's open gap


def _lid_gaps(
    delta: NDArray[np.float64],
    ref: NDArray[np.float64],
    landmarks: NDArray[np.float32],
    to_canon: Mapping[int, NDArray[np.float64]],
    present: Sequence[int],
) -> NDArray[np.float64]:
    """Per frame and lid pair, the gap between the identity offsets of the lower and the
    upper lid (canonical y) that makes the target eye as open as the selfie's scaled by
    how open the template's eye is in that frame.

    Added unchanged, the selfie's lid offsets keep its eyes open while the template
    blinks or winks. dlib's points never meet on a closed eye (the gap stays at about
    ``_CLOSED_EYE`` of the open one), so openness is measured from that level: at it
    the target lids meet and the selfie's eye closes.
    """
    up, low = _LID_PAIRS[:, 0], _LID_PAIRS[:, 1]
    typical = ref[low, 1] - ref[up, 1]
    selfie = typical + delta[low, 1] - delta[up, 1]
    out = np.tile(delta[low, 1] - delta[up, 1], (len(landmarks), 1))
    for i in present:
        canon = shape.apply_affine(to_canon[i], landmarks[i])
        gap = canon[low, 1] - canon[up, 1]
        for eye in (slice(0, 2), slice(2, 4)):
            ratio = gap[eye].mean() / max(float(typical[eye].mean()), 1e-6)
            f = float(np.clip((ratio - _CLOSED_EYE) / (1 - _CLOSED_EYE), 0.0, 1.3))
            out[i, eye] = f * np.maximum(selfie[eye], 0.0) - gap[eye]
    return out


def _with_lid_gaps(delta: NDArray[np.float64], gaps: NDArray[np.float64]) -> NDArray[np.float64]:
    """``delta`` with each lid pair's vertical offsets moved apart (or together) about
    their middle to ``gaps`` (see :func:`_lid_gaps`)."""
    d = delta.copy()
    up, low = _LID_PAIRS[:, 0], _LID_PAIRS[:, 1]
    mid = (d[up, 1] + d[low, 1]) / 2
    d[up, 1] = mid - gaps / 2
    d[low, 1] = mid + gaps / 2
    return d


def _cap_outline(shift: NDArray[np.float64], limit: float) -> NDArray[np.float64]:
    """Limit how far jaw points move so the reshaping stays inside its ring."""
    s = shift.copy()
    n = np.linalg.norm(s[:17], axis=1, keepdims=True)
    s[:17] *= np.minimum(1.0, limit / np.maximum(n, 1e-6))
    return s


def _mesh_points(
    inner: NDArray[np.float64], other: NDArray[np.float64], margin: float
) -> NDArray[np.float64]:
    """76 inner points (68 + forehead of ``inner``) and a ring around the outline that
    encloses both ``inner`` and ``other``."""
    a = shape.with_forehead(inner.astype(np.float32)).astype(np.float64)
    b = shape.with_forehead(other.astype(np.float32)).astype(np.float64)
    centre = a[shape.STABLE].mean(0)
    height = shape.face_height(inner.astype(np.float32))
    ra = a[_OUTLINE] - centre
    rb = b[_OUTLINE] - centre
    na = np.linalg.norm(ra, axis=1)
    radius = np.maximum(na, np.linalg.norm(rb, axis=1)) + margin * height
    ring = centre + ra / np.maximum(na, 1e-6)[:, None] * radius[:, None]
    return np.concatenate([a, ring], 0)


def _texture_mask(
    size: tuple[int, int], pts: NDArray[np.float32], iod: float, feather: float
) -> NDArray[np.float32]:
    """Feathered face mask in texture space: full from the brows down, fading out
    towards the forehead row so template hair and hairlines are not pasted over.

    Feathering here, on the texture, keeps the edge attached to the face as it moves
    (less flicker than a mask redrawn around each frame's outline)."""
    mask = np.zeros(size, np.float32)
    cv2.fillPoly(mask, [np.round(pts[_OUTLINE] * 4).astype(np.int32)], 1.0, cv2.LINE_AA, shift=2)
    k = max(1, int(round(feather * iod)))
    mask = np.asarray(cv2.erode(mask, np.ones((k, k), np.uint8)), np.float32)
    mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), sigmaX=k * 0.8), np.float32)
    # The texture is upright, so "above the brows" is a band of rows.
    brow_y = float(pts[17:27, 1].min())
    top_y = float(pts[68:, 1].min())
    rows = np.arange(size[0], dtype=np.float32)
    ramp = np.clip((rows - top_y) / max(brow_y - top_y, 1.0), 0.0, 1.0)
    return mask * (ramp * ramp * (3 - 2 * ramp))[:, None]
