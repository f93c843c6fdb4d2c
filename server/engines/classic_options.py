"""The classic engine's tunable options, and what it prepares once per template face
track for one identity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from server.engines.classic_layer import Gaze
from server.engines.classic_texture import ClassicFace
from server.vision.color import STATS_WINDOW
from server.vision.shading import SCALE as SHADING_SCALE


@dataclass(frozen=True)
class ClassicOptions:
    """Tunable choices, each measured on the devkit (see BENCHMARKS.md)."""

    shape_strength: float = 1.0  # how much of the selfie's proportions to carry over
    ring_margin: float = 0.08  # reshaping ring beyond the outline, share of face height
    max_jaw_shift: float = 0.08  # cap on jaw/forehead movement, share of face height
    keep_mouth: bool = True  # keep the template's mouth interior
    keep_eyes: bool = False  # keep the template's eyes (blinks) instead of the selfie's
    colour_window: int = STATS_WINDOW  # frames over which template colour stats are averaged
    feather: float = 0.12  # mask feather, share of the inter-ocular distance
    match_detail: bool = True  # soften a crisper selfie to the template face's detail
    skin_only_edges: bool = True  # leave the selfie's hair, hats and background out
    shading: float = 1.0  # how much of the template's own shading (lighting) to take
    shading_scale: float = SHADING_SCALE  # its blur, share of the inter-ocular distance
    pose_aware: bool = True  # tell head turn from proportions with a 3D mean face
    follow_blinks: bool = True  # the selfie's eyelids open and close with the template's
    paint_lids: bool = True  # where the template's eyes shut, a lid painted over the selfie's
    follow_gaze: bool = True  # the selfie's irises look where the template's do
    # the template's eyes read shut from the picture too, not from dlib's points alone
    # (see server.vision.eye_state.track_seen_shut; not behind glasses)
    seen_blinks: bool = True
    complete_turned: bool = True  # a turned selfie's far side mirrored from its near side
    enlarge_small: bool = True  # swap faces under small_faces.MIN_IOD px at a larger scale
    small_face_eyes: bool = True  # small template faces keep their own eye openings
    template_mouth: bool = True  # the mouth's shape from the template (not a smile's)
    # the lips' texture from the template, colour-matched: "open" only where the
    # selfie's lips are apart (its teeth or tongue would show), or always / never
    template_lips: str = "open"
    tame_lips: bool = True  # lips standing out far more than the template's toned down
    even_light: float = 1.0  # how much of the selfie's own side lighting to take out
    lift_dark: bool = True  # brighten an underexposed selfie's face, its noise smoothed
    skin_shading: bool = True  # estimate shading on the skin only (no feature ghosts)
    # how much of the template skin's broad tint (a, b low-passed over the skin, as the
    # shading is) replaces the selfie's: a painted cheek's rouge reads as a pink disc
    # (with skin_shading only)
    skin_tint: float = 1.0
    restore_detail: bool = True  # sharpen a softer selfie to the template face's detail
    # bounds of the lightness contrast gain while the template's shading is applied:
    # the template's spread of lightness is mostly its lighting, which the shading
    # layer already brings, so a full gain would darken eyes and brows twice over
    light_gain_min: float = 0.4
    light_gain_max: float = 1.2
    # brows and eyes keep at least this share of their depth below the skin round them
    # when the lightness gain is lower (see server.vision.feature_contrast); 0: off
    feature_contrast: float = 0.5
    # the colour transfer trades the selfie skin's light colour for the template's (von
    # Kries, in linear light) instead of shifting a and b: shadows keep their hue, a pink
    # lid stays pink on a darker face (see color.white_balanced)
    white_balance: bool = True
    # the layer's colour along the face's outline pulled to the template skin's there,
    # averaged over colour_window frames (see server.vision.seam)
    match_seams: bool = True


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
    template_eyes: bool = False  # a small face: its eye openings stay the template's
    seams: NDArray[np.float32] | None = None  # (N, sectors, 4) template skin at the outline
    # (N,) the colour transfer's lightness gain per frame (NaN: bounds only), or None:
    # the template's spread over the identity's, each without its lighting (shading on)
    light: NDArray[np.float32] | None = None
    # (N, 2) how open each template eye is per frame (classic_shape.track_eye_openness): where
    # it shuts, the selfie's eye, squeezed shut by the warp, is painted over with a lid
    eyes_open: NDArray[np.float64] | None = None
    gaze: Gaze | None = None  # how the selfie's irises follow the template's
