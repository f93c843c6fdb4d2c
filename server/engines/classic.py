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
   matched to the template face (statistics smoothed over ~9 frames), its edge pulled
   to the template skin's colour along the outline, and blended with a feathered
   mask; the template's mouth interior is kept where it opens;
4. where the template's eyes shut (dlib's points, or the picture for a wink they
   miss) a lid is painted over the selfie's, and its irises move where the
   template's look (read from the picture, :mod:`server.vision.gaze`).

Template tracks arrive checked against the picture's own motion: the offline analysis
repairs frames where dlib placed a face beside the head (:mod:`server.gif_templates.repair`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from server.engines import small_faces
from server.engines.base import SwapResult
from server.engines.classic_layer import face_layer, follow_gaze, shut_eyes
from server.engines.classic_options import ClassicOptions, TrackPlan
from server.engines.classic_shape import (
    N_INNER,
    frame_meshes,
    lid_gaps,
    mesh_points,
    neutral_expression,
    open_features,
    reference_shape,
    track_eye_openness,
    uncross,
    with_lid_gaps,
)
from server.engines.classic_template import (
    colour_stats,
    iris_reads,
    light_gains,
    seam_edges,
    seen_shut,
    track_gain,
)
from server.engines.classic_texture import (
    ClassicFace,
    bleed_skin,
    colourless,
    eyes_unusable,
    paint_out_hair,
    skin_weight,
    texture_mask,
)
from server.engines.classic_track import track_face, white_balanced
from server.gif_templates.occluders import occluder_for_render
from server.types import Frame, IdentityData
from server.vision import (
    color,
    exposure,
    face_parts,
    facial_hair,
    feature_contrast,
    glasses,
    glasses_removal,
    masks,
    pose,
    relight,
    shading,
    shape,
    symmetry,
)
from server.vision.boxes import clip_box, intersect, points_box
from server.vision.outline import face_points
from server.vision.warp import MeshRaster, remap, triangle_affines, triangulate

__all__ = ["ENGINE_VERSION", "ClassicEngine", "ClassicFace", "ClassicOptions", "TrackPlan"]

ENGINE_VERSION = 38  # bump when output changes, so identical requests are not reused


class ClassicEngine:
    name = "classic"

    def __init__(self, options: ClassicOptions | None = None) -> None:
        self.options = options or ClassicOptions()

    # -- once per identity ----------------------------------------------------------------
    def prepare_identity(self, identity: IdentityData) -> ClassicFace:
        lm, tex = identity.landmarks, identity.texture
        if self.options.lift_dark:
            tex = exposure.lift_dark(tex, lm)
        worn = glasses.glasses_evidence(tex, lm) >= glasses.EVIDENCE_AT
        tex = glasses_removal.remove_glasses(tex, lm, worn)
        # Light first, on the face as taken: completing a turned face copies the near
        # side's shadows onto the far side, beside the original nose's lit side.
        if self.options.even_light > 0:
            tex = relight.even_light(tex, lm, self.options.even_light)
        if self.options.complete_turned:
            tex, lm = symmetry.complete_far_side(tex, lm)
        upright = uncross(lm.astype(np.float64), np.array([0.0, 1.0]))
        pts = face_points(upright.astype(np.float32))
        iod = shape.interocular(lm)
        alpha = texture_mask(tex.shape[:2], pts, iod, self.options.feather)
        hair = np.zeros(tex.shape[:2], np.float32)
        filled = None
        if self.options.skin_only_edges:
            tex, hair, filled = paint_out_hair(tex, lm)
        lab = color.to_lab(tex)
        skin = masks.skin_mask(tex.shape[:2], lm) & (hair < 0.5)
        beard = facial_hair.facial_hair(lab, lm)
        weight = None
        if self.options.skin_only_edges:
            weight, feathered = skin_weight(lab, skin, lm, hair)
            alpha *= feathered
        mouth_open = face_parts.lips_apart(identity.landmarks) >= face_parts.LIPS_APART
        spread = shading.unlit_spread(lab[:, :, 0], skin, self.options.shading_scale * iod)
        return ClassicFace(
            lab,
            pts,
            alpha,
            color.lab_stats(lab, skin),
            mouth_open,
            eyes_unusable(identity),
            weight,
            colourless=colourless(lab, alpha),
            filled=filled,
            glasses=worn,
            beard=facial_hair.soft(beard, iod) if beard.any() else None,
            light_spread=spread,
        )

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
        present = [i for i in range(len(landmarks)) if not np.isnan(landmarks[i, 0, 0])]
        ref, to_canon = reference_shape(landmarks, present)
        delta = self._identity_delta(face, ref)
        topo = open_features(ref)
        tris = triangulate(mesh_points(topo, topo, self.options.ring_margin))
        stats = colour_stats(feats, frames, landmarks, present)
        to_frame = {i: np.linalg.inv(to_canon[i][:, :2]).astype(np.float64) for i in present}
        colour = color.smooth_stats(np.asarray(stats, np.float32), self.options.colour_window)
        iod = float(np.median([shape.interocular(landmarks[i]) for i in present]))
        light = light_gains(feats, frames, landmarks, present, face.light_spread, self.options)
        gain = track_gain(colour, face.stats, present, light, self.options)
        scaled, blur = track_face(face, gain, feats, frames, landmarks, present, iod, self.options)
        scaled = bleed_skin(self._feature_contrast(scaled, gain))
        unbalanced = scaled
        if self.options.white_balance and not scaled.colourless:  # grey: no light to trade
            scaled = white_balanced(scaled, colour, present)
        inner = np.asarray((tris < N_INNER).all(axis=1), bool)
        openness = self._eyes_open(ref, landmarks, to_canon, present, frames, feats)
        gaps = lid_gaps(delta, ref, landmarks, to_canon, openness)
        occluder = occluder_for_render(feats, frames, landmarks)
        small = self.options.small_face_eyes and small_faces.keeps_template_eyes(iod)
        seams = seam_edges(feats, frames, landmarks, colour, self.options)
        look = None
        if self.options.follow_gaze and not (small or scaled.template_eyes):
            reads = iris_reads(feats, frames, landmarks, present)
            look = follow_gaze(unbalanced, scaled, reads, present, openness, colour)
        return TrackPlan(
            delta, to_frame, tris, colour, inner, scaled, blur, gaps, occluder, small, seams, light,
            openness, look,
        )  # fmt: skip

    def _eyes_open(
        self,
        ref: NDArray[np.float64],
        landmarks: NDArray[np.float32],
        to_canon: Mapping[int, NDArray[np.float64]],
        present: list[int],
        frames: Sequence[Frame],
        feats: Mapping[str, NDArray[np.floating]],
    ) -> NDArray[np.float64]:
        """(N, 2) how open each template eye is per frame: dlib's points' read, and shut
        where the picture shows it shut (dlib can keep a winking eye's points open; not
        read behind glasses)."""
        openness = track_eye_openness(ref, landmarks, to_canon, present)
        if self.options.seen_blinks and not glasses.track_wears(feats.get("glasses")):
            openness[seen_shut(feats, frames, landmarks, present)] = 0.0
        return openness

    def _identity_delta(self, face: ClassicFace, ref: NDArray[np.float64]) -> NDArray[np.float64]:
        """The identity's shape offsets from the track's reference shape ``ref``
        (canonical space)."""
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
        return delta

    def _feature_contrast(self, face: ClassicFace, gain: float) -> ClassicFace:
        """``face`` with brows and eyes deepened against the colour transfer's lightness
        gain ``gain``."""
        least = self.options.feature_contrast
        if least <= 0 or face.glasses:
            return face
        lab = feature_contrast.kept(face.texture_lab, face.points, gain, least)
        return replace(face, texture_lab=lab)

    def _identity_only(
        self, offsets: NDArray[np.float64], selfie: NDArray[np.float64], ref: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Shape offsets (canonical space) without the selfie's expression, symmetric."""
        offsets = neutral_expression(offsets, selfie, ref)
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
            with_lid_gaps(plan.delta, plan.lid_gaps[index])
            if self.options.follow_blinks
            else plan.delta
        )
        target, src, dst = frame_meshes(lm, delta, plan.to_frame[index], self.options)
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
        layer, alpha = face_layer(
            self.options, raster.crop(inner), dst, target, lm, under, plan, index
        )
        a = alpha[..., None]
        reshaped[sub] = np.clip(layer * a + under * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)
        if self.options.follow_blinks and self.options.paint_lids:
            shut_eyes(reshaped, target - (box.left, box.top), plan, index)
        covered = raster.inside
        roi = frame[box.top : box.bottom, box.left : box.right]
        np.copyto(roi, reshaped, where=covered[..., None])
        return SwapResult(box, covered)
