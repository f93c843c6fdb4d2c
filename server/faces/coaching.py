"""Selfie coaching: what makes a selfie a poor face texture, as codes with a short
message a phone app can show.

Most problems are *warnings*: the renderer copes (an open mouth, glasses, dim light)
or the result is only softer, and the user is coached for next time. A few make the
selfie unusable as a texture (*blocking*): a face turned far away or mostly covered.
A selfie with no human face at all is refused earlier, as ``no_face``. A false refusal
costs as much as a broken render, so blocking thresholds sit well past what was
measured on acceptable selfies (``python -m tools.selfie_checks``; docs/selfie_checks.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from server.faces import selfie_measures as sm
from server.types import Frame, Landmarks68
from server.vision import eye_state
from server.vision.shape import interocular, mouth_openness

# code -> message shown to the user (imperative, short).
MESSAGES: dict[str, str] = {
    "head_turned": "Face the camera",
    "head_tilted": "Hold your head straight",
    "mouth_open": "Close your mouth",
    "teeth_showing": "Close your lips",
    "eyes_closed": "Open your eyes",
    "glasses": "Take off your glasses",
    "face_covered": "Uncover your face",
    "blurry": "Hold still, the photo is blurry",
    "too_dark": "Find more light",
    "overexposed": "Too bright: step out of direct light",
    "side_light": "Face the light, half your face is in shadow",
    "face_small": "Move closer to the camera",
}
# How much each warning lowers a selfie's score when the texture is chosen.
PENALTY: dict[str, float] = {
    "head_turned": 0.25, "mouth_open": 0.2, "teeth_showing": 0.1, "eyes_closed": 0.2,
    "glasses": 0.15, "face_covered": 0.3, "blurry": 0.15, "too_dark": 0.1,
    "overexposed": 0.1, "side_light": 0.1, "face_small": 0.05, "head_tilted": 0.02,
}  # fmt: skip

YAW_WARN, YAW_BLOCK = 18.0, 50.0  # degrees
PITCH_WARN, PITCH_BLOCK = 25.0, 45.0
ROLL_WARN = 25.0
MOUTH_OPEN = 0.18  # inner-lip gap over mouth width
TEETH_OPEN, TEETH_SHARE = 0.06, 0.12  # open share of the lips' area, teeth share of it
GLASSES_BRIDGE = 6.0  # horizontal-edge energy on the bridge over the face's gradient
COVER = 25.0  # weighted CIELAB distance of a region from the reference skin
LIPS_HIDDEN = 6.0  # lips this close to the skin around them are not seen
MASK_CHROMA = 6.0  # colour (a, b) distance of the lower face from the skin under a mask
BLUR = 0.56  # sharpness 0..1
DARK, BRIGHT, CLIPPED = 32.0, 85.0, 0.25  # face lightness L (0..100), clipped share
SIDE_LIGHT = 0.4  # lightness difference of the cheeks over the lighter one
SMALL_FACE = 90  # face size (2.5 inter-ocular distances) in the selfie, px


@dataclass(frozen=True)
class Advice:
    """One problem of one selfie; ``blocking``: the selfie cannot be the texture."""

    code: str
    message: str
    blocking: bool = False


@dataclass
class Assessment:
    """Every problem found in one selfie and the numbers behind them."""

    advice: list[Advice] = field(default_factory=list)
    measures: dict[str, float] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return not any(a.blocking for a in self.advice)

    @property
    def codes(self) -> list[str]:
        return [a.code for a in self.advice]

    @property
    def penalty(self) -> float:
        return sum(PENALTY.get(a.code, 0.1) for a in self.advice)

    def add(self, code: str, blocking: bool = False) -> None:
        self.advice.append(Advice(code, MESSAGES[code], blocking))


Check = Callable[[Frame, Landmarks68, Assessment], None]


def assess(texture: Frame, lm: Landmarks68, face_size: float, roll: float) -> Assessment:
    """Run every check on the aligned face ``texture`` (its landmarks ``lm``);
    ``face_size`` (px) and ``roll`` (degrees) are the face's in the selfie itself (the
    texture is upright)."""
    out = Assessment(measures={"roll": float(roll)})
    if abs(roll) >= ROLL_WARN:
        out.add("head_tilted")
    for check in CHECKS:
        check(texture, lm, out)
    out.measures["face_size"] = float(face_size)
    if face_size < SMALL_FACE:
        out.add("face_small")
    return out


def check_pose(tex: Frame, lm: Landmarks68, out: Assessment) -> None:
    angles = sm.head_angles(lm)
    out.measures.update(yaw=angles.yaw, pitch=angles.pitch)
    yaw, pitch = abs(angles.yaw), abs(angles.pitch)
    if yaw >= YAW_WARN or pitch >= PITCH_WARN:
        out.add("head_turned", blocking=yaw >= YAW_BLOCK or pitch >= PITCH_BLOCK)


def check_mouth(tex: Frame, lm: Landmarks68, out: Assessment) -> None:
    opening = mouth_openness(lm)
    open_share, teeth = sm.mouth_interior(tex, lm)
    out.measures.update(mouth_open=opening, mouth_interior=open_share, teeth=teeth)
    if opening >= MOUTH_OPEN:
        out.add("mouth_open")
    if open_share >= TEETH_OPEN and teeth >= TEETH_SHARE:
        out.add("teeth_showing")


def check_eyes(tex: Frame, lm: Landmarks68, out: Assessment) -> None:
    """Shut eyes, or a wink, read from the picture (see :mod:`server.vision.eye_state`):
    dlib's lid points keep a gap on shut lids. Runs after the pose check (a wink is
    read on faces turned less than 20 degrees) and the glasses check (frames add
    level edges)."""
    openness = sm.eye_openness_each(lm)
    edges = eye_state.edge_ratio(tex, lm)
    out.measures.update(eyes_open=min(openness), eye_edges=float(np.mean(edges)))
    glasses, yaw = "glasses" in out.codes, out.measures.get("yaw", 0.0)
    if eye_state.shut(edges, glasses=glasses, yaw=yaw):
        out.add("eyes_closed")


def check_glasses(tex: Frame, lm: Landmarks68, out: Assessment) -> None:
    bridge, rims = sm.glasses_energy(tex, lm)
    out.measures.update(glasses_bridge=bridge, glasses_rims=rims)
    if bridge >= GLASSES_BRIDGE:
        out.add("glasses")


def check_cover(tex: Frame, lm: Landmarks68, out: Assessment) -> None:
    """Covered: three or more regions far from the skin on the nose bridge. Blocking
    only for a face mask: two of nose, upper lip and chin far from that skin, unlike it
    in colour too (not just shaded), no lips to be seen, and no hard side light."""
    distances = sm.region_distances(tex, lm)
    lips = sm.lip_contrast(tex, lm)
    chroma = sm.lower_face_chroma_gap(tex, lm)
    out.measures.update({f"cover_{k}": v for k, v in distances.items()})
    out.measures.update(lip_contrast=lips, lower_face_chroma_gap=chroma)
    covered = {k for k, v in distances.items() if v >= COVER}
    lower = len({"nose", "upper_lip", "chin"} & covered) >= 2
    # Hard side light darkens half the face, lips and skin alike: colour distances
    # then read as cover, so a shaded face is never refused as masked.
    shaded = sm.lighting(tex, lm).asymmetry > SIDE_LIGHT
    masked = lower and lips < LIPS_HIDDEN and chroma >= MASK_CHROMA and not shaded
    if masked or len(covered) >= 3:
        out.add("face_covered", blocking=masked)


def check_sharpness(tex: Frame, lm: Landmarks68, out: Assessment) -> None:
    sharp = sm.sharpness(tex, lm, interocular(lm))
    out.measures["sharpness"] = sharp
    if sharp < BLUR:
        out.add("blurry")


def check_light(tex: Frame, lm: Landmarks68, out: Assessment) -> None:
    light = sm.lighting(tex, lm)
    out.measures.update(lightness=light.mean, clipped=light.clipped, asymmetry=light.asymmetry)
    if light.mean < DARK:
        out.add("too_dark")
    elif light.mean > BRIGHT or light.clipped > CLIPPED:
        out.add("overexposed")
    if light.asymmetry > SIDE_LIGHT:
        out.add("side_light")


CHECKS: tuple[Check, ...] = (
    check_pose,
    check_mouth,
    check_glasses,
    check_eyes,
    check_cover,
    check_sharpness,
    check_light,
)
