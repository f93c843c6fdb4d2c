"""Taking a selfie's own side lighting out of its face texture.

A face is close to left-right symmetric; the light on it often is not (a window to
one side, a painted portrait's chiaroscuro). Comparing the face with its own mirror
image separates the two: where the skin is darker than at the mirrored point, the
difference is light, not face. Half that difference (in log brightness, as lighting
multiplies) is taken off each side, which leaves the face evenly lit by the mean of
its two sides; the template's own shading is applied later, per frame. The light's
colour is evened too: the shadow side takes the lit side's colour
(:func:`shadow_colour`).

Only skin is compared (features left out, see :func:`face_parts.feature_mask`), and
the difference is smoothed at a scale small enough to follow a shadow's edge (a
Gaussian low-pass at face scale would leave the edge as a seam down the middle).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame
from server.vision import color, pose, shape
from server.vision.face_parts import feature_mask
from server.vision.masks import grown, hull_mask
from server.vision.warp import warp_points

SCALE = 0.08  # smoothing of the left-right difference, share of the inter-ocular distance
WIDE, WIDE_SHARE = 0.4, 0.02  # the fill where there is no skin nearby: its scale and share
COARSE_FROM = 12.0  # blurs wider than this (sigma, px) are done at a quarter resolution
PASSES = 2
YAW_FULL, YAW_NONE = 30.0, 45.0  # head turn (degrees): full correction, none
# Below this turn (degrees) the mirror is a plain reflection about the nose line, each
# half stretched to the other's width (smooth; what the correction was measured with on
# frontal faces); from it, a mesh warp that follows the landmarks (see :func:`mirrored`).
MESH_FROM = 12.0
MAX_GAIN = 2.5  # the most a side is brightened (or 1/this darkened)
EVEN_COLOUR = True  # the shadow side also takes the lit side's colour (shadow_colour)
COLOUR_BOUND = 12.0  # Lab a/b: a larger left-right difference is a mark, not light
# Head turn (degrees) up to which the shadow side's colour is wholly replaced, and from
# which not at all: on a turned face the far side's partner is a sliver by the nose.
COLOUR_YAW_FULL, COLOUR_YAW_NONE = 10.0, 20.0
SHADOW_FULL = 0.1  # log light below the mean from which a side's colour is wholly its partner's
# Near the nose line the correction is smoothed across the face over this share of the
# inter-ocular distance (see :func:`_across_nose`).
NOSE_SPREAD = 0.3
# The nose's own shadow (see :func:`nose_shadow`): the zone between the brows' inner
# ends, the eyes' inner corners and the mouth's corners, grown by NOSE_GROW; compared
# with its mirror at NOSE_FINE, coming in over NOSE_RAMP from the nose line (shares of
# the inter-ocular distance).
NOSE_ZONE = np.array([21, 22, 27, 31, 33, 35, 39, 42, 48, 54])
NOSE_GROW, NOSE_FINE, NOSE_RAMP = 0.1, 0.03, 0.08
# A half's mean log light below the face's: from SIDE_FROM it is a shadow side (evenly
# lit faces measure 0.035 and 0.045), wholly from SIDE_FULL.
SIDE_FROM, SIDE_FULL = 0.05, 0.12
# The share of the shadow band's gap to its lit partner taken out. All of it (1.0)
# also flattened the form shading along a photographed nose: dlib's distance to the
# selfie rose 0.40 -> 0.45 on s42 x d0, and its share of s18's frames closer to the
# selfie fell 0.96 -> 0.51; at 0.5 it is 0.42 and 0.98, and the painted band's orange
# is gone as well (the colour is taken whole).
NOSE_LIFT = 0.5


def _halves(lm: NDArray[np.floating]) -> tuple[float, float, float]:
    """The face's nose line (x) and the widths of its image-left and -right halves."""
    p = np.asarray(lm, np.float64)
    mid = float(np.median(p[[27, 28, 29, 30, 33, 51, 57, 62, 66, 8], 0]))
    left = max(mid - float(p[[0, 1, 2, 17], 0].mean()), 1.0)
    right = max(float(p[[14, 15, 16, 26], 0].mean()) - mid, 1.0)
    return mid, left, right


def turn_fade(lm: NDArray[np.floating]) -> float:
    """1 up to ``YAW_FULL`` degrees of head turn, falling to 0 at ``YAW_NONE``: beyond,
    the far cheek is a sliver whose mirror partner says little."""
    yaw = abs(pose.yaw_degrees(pose.fit(lm)))
    return float(np.clip((YAW_NONE - yaw) / (YAW_NONE - YAW_FULL), 0.0, 1.0))


def mirror_maps(
    size: tuple[int, int], lm: NDArray[np.floating]
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """remap() maps of an upright face's mirror image about its nose line, each side
    stretched to the other's width (a slightly turned face has unequal halves)."""
    mid, left, right = _halves(lm)
    h, w = size
    x = np.arange(w, dtype=np.float64)
    mx = np.where(x < mid, mid + (mid - x) * right / left, mid - (x - mid) * left / right)
    map_x = np.broadcast_to(mx.astype(np.float32), (h, w)).copy()
    map_y = np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (h, w)).copy()
    return map_x, map_y


def mirrored(image: NDArray[np.float32], lm: NDArray[np.floating]) -> NDArray[np.float32]:
    """The face's mirror image, each point of it carried onto its partner on the other
    side (dlib's left/right correspondence, a mesh warp): on a turned face the far
    cheek meets the near one, however unequal their widths."""
    p = np.asarray(lm, np.float64)
    mid = _halves(p)[0]
    flip = np.array([[-1.0, 0.0, 2 * mid], [0.0, 1.0, 0.0]])
    h, w = image.shape[:2]
    flipped = cv2.warpAffine(image, flip, (w, h), borderMode=cv2.BORDER_REFLECT)
    partner = p[shape.MIRROR] * np.array([-1.0, 1.0]) + np.array([2 * mid, 0.0])
    return warp_points(np.asarray(flipped, np.float32), partner, p)


def side_light(image: Frame, lm: NDArray[np.floating]) -> NDArray[np.float32]:
    """Per pixel, the log-brightness of the face's lighting relative to the mean of its
    two sides (positive on the lit side), smooth, over the face and forehead."""
    iod = shape.interocular(np.asarray(lm, np.float32))
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    log = np.log(cv2.GaussianBlur(grey, (0, 0), 0.03 * iod) + 4.0)
    bound = float(np.log(1.0 / 0.3))  # a strand of hair or a shadowless mole is not light
    return _mirror_difference(log[:, :, None], lm, bound)[:, :, 0] / 2.0


def _mirror_difference(
    values: NDArray[np.float32], lm: NDArray[np.floating], bound: float
) -> NDArray[np.float32]:
    """``values`` (h, w, channels) minus their mirror image about the face's midline,
    each difference clipped to ``bound``, smooth, over the face and forehead.

    Evidence comes from the skin between jaw and brows (a forehead may be hair),
    spread over the features and the forehead by :func:`_filled`."""
    size = values.shape[:2]
    channels = values.shape[2]
    pts = np.asarray(lm, np.float32)
    iod = shape.interocular(pts)
    skin = hull_mask(size, pts[:27]).astype(np.float32) * (1.0 - feature_mask(size, pts))
    both = np.ascontiguousarray(np.concatenate([values, skin[:, :, None]], axis=-1))
    if abs(pose.yaw_degrees(pose.fit(pts))) < MESH_FROM:
        other = np.asarray(cv2.remap(both, *mirror_maps(size, pts), cv2.INTER_LINEAR), np.float32)
    else:
        other = np.asarray(mirrored(both, pts), np.float32)
    weight = skin * other[:, :, channels]
    region = hull_mask(size, shape.with_forehead(pts)).astype(np.float32)
    fade = np.clip(cv2.GaussianBlur(region, (0, 0), 0.15 * iod) / 0.5, 0.0, 1.0)
    raw = np.clip(values - other[:, :, :channels], -bound, bound) * weight[:, :, None]
    spread = _filled(raw, weight, iod)
    out = np.zeros(values.shape, np.float32)
    for c in range(channels):
        out[:, :, c] = _across_nose(spread[:, :, c], pts, NOSE_SPREAD * iod) * fade
    return out


def _filled(
    raw: NDArray[np.float32], weight: NDArray[np.float32], iod: float
) -> NDArray[np.float32]:
    """``raw`` (h, w, channels, already weighted) spread by a normalised convolution at
    two scales: the small one where there is evidence nearby, the large one filling in
    the rest. The weight's blur is shared by the channels."""
    num = np.zeros(raw.shape, np.float32)
    den = np.full(weight.shape, 1e-4, np.float32)
    for sigma, share in ((SCALE * iod, 1.0), (WIDE * iod, WIDE_SHARE)):
        num += share * _blurred(raw, sigma).reshape(raw.shape)
        den += share * _blurred(weight, sigma)
    return np.asarray(num / den[:, :, None], np.float32)


def _blurred(image: NDArray[np.float32], sigma: float) -> NDArray[np.float32]:
    """Gaussian blur; a wide one (sigma over ``COARSE_FROM`` px) at a quarter of the
    resolution, where it is as smooth and sixteen times cheaper."""
    if sigma <= COARSE_FROM:
        return np.asarray(cv2.GaussianBlur(image, (0, 0), sigma), np.float32)
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / 4)
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)


def shadow_colour(
    relit: Frame, light: NDArray[np.float32], lm: NDArray[np.floating], strength: float = 1.0
) -> Frame:
    """``relit`` with the colour (Lab a, b) of its shadow side, where ``light`` (see
    :func:`side_light`, of the face as taken) is negative, replaced by its mirror
    partner's on the lit side; the eye openings keep their own.

    A painter's shadow side is often cool and the lit side warm, as is a photo's under
    a window and a lamp: brightened alone, such a shadow stays a grey-blue patch round
    the eye. Evening both sides' colour to their mean instead tinted both eyes.
    :func:`even_light` fades this out on faces turned from ``COLOUR_YAW_FULL`` to
    ``COLOUR_YAW_NONE`` degrees: there the far side gives its colour to the whole near
    cheek (a pale lit nose flank turned Vermeer's cheek grey)."""
    pts = np.asarray(lm, np.float32)
    iod = shape.interocular(pts)
    lab = color.to_lab(relit)
    ab = np.asarray(cv2.GaussianBlur(lab[:, :, 1:], (0, 0), 0.03 * iod), np.float32)
    difference = _mirror_difference(ab, lm, COLOUR_BOUND)
    eyes = np.zeros(relit.shape[:2], np.float32)
    for eye in (shape.EYE_L, shape.EYE_R):
        cv2.fillPoly(eyes, [np.round(pts[eye]).astype(np.int32)], 1.0)
    eyes = np.asarray(cv2.GaussianBlur(eyes, (0, 0), max(1.0, 0.03 * iod)), np.float32)
    share = np.clip(-light / SHADOW_FULL, 0.0, 1.0) * np.clip(1.0 - 2.0 * eyes, 0.0, 1.0)
    lab[:, :, 1:] -= (strength * share)[:, :, None] * difference
    return np.clip(color.lab_to_bgr(lab) + 0.5, 0, 255).astype(np.uint8)


def _across_nose(
    estimate: NDArray[np.float32], lm: NDArray[np.floating], spread: float
) -> NDArray[np.float32]:
    """``estimate`` with its rows smoothed (Gaussian, sigma ``spread`` px) near the
    nose line, blended back to itself ``2 * spread`` away from it.

    The left-right difference flips sign at the nose line, and the nose's own sides
    differ most under any light: each side's value, filled in up to the line, met
    there in a step, a seam down the middle of evenly lit faces too. Smoothing leaves a
    lighting ramp across the nose as it is and spreads such a step over the nose."""
    h, w = estimate.shape
    k = 2 * int(3 * spread) + 1
    wide = cv2.GaussianBlur(estimate, (k, 1), spread)
    p = np.asarray(lm, np.float64)[shape.MIDLINE]
    order = np.argsort(p[:, 1])
    mid = np.interp(np.arange(h, dtype=np.float64), p[order, 1], p[order, 0])
    t = np.abs(np.arange(w, dtype=np.float64)[None, :] - mid[:, None]) / max(2 * spread, 1.0)
    t = np.clip(t, 0.0, 1.0)
    near = np.asarray(1.0 - t * t * (3 - 2 * t), np.float32)
    return np.asarray(estimate + near * (wide - estimate), np.float32)


def even_light(image: Frame, lm: NDArray[np.floating], strength: float = 1.0) -> Frame:
    """``image`` with its face's side lighting taken out (see the module's text).

    Two passes: the smoothing rounds off a steep shadow edge, whose remainder the
    second pass finds and takes out. The mirror follows the landmarks, so a turned face
    compares each cheek with the other; the correction fades out on faces turned so far
    that the far side is a sliver (see :func:`turn_fade`)."""
    strength *= turn_fade(lm)
    if strength <= 0:
        return image
    bound = float(np.log(MAX_GAIN))
    out = image
    total = np.zeros(image.shape[:2], np.float32)
    steps = []
    for _ in range(PASSES):
        steps.append(side_light(out, lm))
        total = np.clip(total + strength * steps[-1], -bound, bound)
        out = np.clip(image.astype(np.float32) * np.exp(-total)[..., None] + 0.5, 0, 255)
        out = out.astype(np.uint8)
    yaw = abs(pose.yaw_degrees(pose.fit(lm)))
    colour = float(np.clip((COLOUR_YAW_NONE - yaw) / (COLOUR_YAW_NONE - COLOUR_YAW_FULL), 0, 1))
    if not EVEN_COLOUR or colour <= 0:
        return out
    out = shadow_colour(out, steps[0], lm, strength * colour)
    return nose_shadow(out, steps[0], lm, strength * colour)


def nose_shadow(
    relit: Frame, light: NDArray[np.float32], lm: NDArray[np.floating], strength: float = 1.0
) -> Frame:
    """``relit`` with the shadow the nose casts on the shadow side (``light``: see
    :func:`side_light`, of the face as taken) brightened towards its mirror partner on
    the lit side (``NOSE_LIFT`` of the way), and given its colour.

    A side light lays a band a few pixels wide along the nose and down the fold to the
    mouth, narrower than the side light's smoothing sees, and the smoothing across the
    nose line leaves it whole. Pasted onto an evenly lit template it read as a dark
    line down the face; brightened in RGB alone, a painter's brown shadow turned
    orange. Eyes, brows, nostrils and lips are left out, and the step comes in over
    ``NOSE_RAMP`` from the nose line, where a point is its own partner."""
    pts = np.asarray(lm, np.float32)
    iod = shape.interocular(pts)
    size = relit.shape[:2]
    keep = _nose_zone(size, pts, iod)
    mid = _halves(pts)[0]
    near = np.abs(np.arange(size[1], dtype=np.float32) - mid) / (NOSE_RAMP * iod)
    share = _shadow_halves(light, pts, mid) * np.clip(near, 0.0, 1.0)[None, :]
    grey = cv2.cvtColor(relit, cv2.COLOR_BGR2GRAY).astype(np.float32)
    log = np.log(cv2.GaussianBlur(grey, (0, 0), NOSE_FINE * iod) + 4.0)
    fine = (0, 0), NOSE_FINE * iod
    ab_taken = np.asarray(cv2.GaussianBlur(color.to_lab(relit)[:, :, 1:], *fine), np.float32)
    # Partners follow the landmarks (:func:`mirrored`): a reflection about the nose line
    # paired a turned face's shadow flank with the lit cheek beside the other flank.
    # One warp for all: the partners' colour is the lit side's, which the lift leaves.
    mirror = mirrored(np.dstack([keep, log, ab_taken]), pts)
    share = share * strength * keep * mirror[:, :, 0]
    darker = mirror[:, :, 1] - log
    partner = mirror[:, :, 2:]
    lift = np.clip(darker, 0.0, float(np.log(MAX_GAIN))) * share * NOSE_LIFT
    lab = color.to_lab(np.clip(relit * np.exp(lift)[..., None] + 0.5, 0, 255).astype(np.uint8))
    ab = np.asarray(cv2.GaussianBlur(lab[:, :, 1:], *fine), np.float32)
    # The colour where this side is the darker one (its brightened shadow is orange).
    lab[:, :, 1:] += (share * np.clip(darker / 0.1, 0.0, 1.0))[..., None] * (partner - ab)
    return np.clip(color.lab_to_bgr(lab) + 0.5, 0, 255).astype(np.uint8)


def _nose_zone(size: tuple[int, int], pts: NDArray[np.float32], iod: float) -> NDArray[np.float32]:
    """Soft weight of the skin round the nose (see ``NOSE_ZONE``), features left out."""
    zone = grown(hull_mask(size, pts[NOSE_ZONE]), max(1, int(round(NOSE_GROW * iod))))
    soft = cv2.GaussianBlur(zone.astype(np.float32), (0, 0), 0.05 * iod)
    return np.asarray(soft * (1.0 - feature_mask(size, pts)), np.float32)


def _shadow_halves(
    light: NDArray[np.float32], pts: NDArray[np.float32], mid: float
) -> NDArray[np.float32]:
    """Per column, how much its half of the face (either side of the nose line ``mid``)
    is the shadow side: 0 for the lit side and on evenly lit faces."""
    h, w = light.shape
    skin = hull_mask((h, w), pts[:27])
    left = np.arange(w, dtype=np.float32) < mid
    out = np.zeros(w, np.float32)
    for side in (left, ~left):
        inside = skin & side[None, :]
        if inside.any():
            below = -float(light[inside].mean())
            out[side] = np.clip((below - SIDE_FROM) / (SIDE_FULL - SIDE_FROM), 0.0, 1.0)
    return out[None, :]
