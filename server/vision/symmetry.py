"""Complete the far side of a turned face from its near side, by symmetry.

On a selfie turned by 20-30 degrees the far half of the face is squeezed: the far eye
and cheek are a few pixels wide, and a warp onto a frontal template stretches them
into smeared, distorted features. Faces are nearly symmetric, so the near half, seen
almost whole, is a better source for both: it is mirrored about the face's vertical
midline onto the far half, its landmarks with it (dlib's left/right point
correspondence), and blended in over a soft band at the midline. The mirrored far
eye's opening is flipped back, so that it looks the same way as the near one.

How much of the mirror is used grows with the head turn fitted to the landmarks
(``pose.fit``): none below ``YAW_START`` degrees (a frontal selfie is left exactly as
it is), all of it from ``YAW_FULL``. In between, both halves are first warped to the
same landmarks, part way to frontal, so the blend never shows two eyes.

Works on an upright aligned face texture (eyes level), BGR uint8.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame, Landmarks68
from server.vision import pose, shape
from server.vision.warp import warp_points

YAW_START = 10.0  # degrees of turn below which the texture is left as it is
YAW_FULL = 20.0  # degrees of turn from which the far side is wholly mirrored
BAND = 0.4  # blend band across the midline, share of the inter-ocular distance
BAND_EYES = 0.12  # the same at the eyes' height
TONE_BAND = 1.0  # blend band of the two sides' broad tones, share of the eye distance
TONE_SCALE = 0.15  # what counts as broad tone: Gaussian sigma, share of the eye distance
_AXIS = np.array([27, 28, 57, 8])  # points whose mean x is the midline


def turn_weight(lm: Landmarks68) -> float:
    """0 (frontal) .. 1 (turned ``YAW_FULL`` degrees or more)."""
    yaw = abs(pose.yaw_degrees(pose.fit(lm)))
    return float(np.clip((yaw - YAW_START) / (YAW_FULL - YAW_START), 0.0, 1.0))


def complete_far_side(texture: Frame, lm: Landmarks68) -> tuple[Frame, NDArray[np.float32]]:
    """The texture and its 68 landmarks with the far half replaced by the near half's
    mirror image, weighted by the turn (unchanged, the same objects, when frontal)."""
    w = turn_weight(lm)
    if w <= 0:
        return texture, lm
    p = np.asarray(lm, np.float64)
    c = float(p[_AXIS, 0].mean())
    far_sign = 1.0 if p[16, 0] - c < c - p[0, 0] else -1.0  # the narrower side is far
    mirrored = p[shape.MIRROR] * np.array([-1.0, 1.0]) + np.array([2 * c, 0.0])
    target = (1 - w) * p + w * frontal_shape(p, c)
    flip = np.array([[-1.0, 0.0, 2 * c], [0.0, 1.0, 0.0]])
    h, wd = texture.shape[:2]
    flipped = np.asarray(
        cv2.warpAffine(texture, flip, (wd, h), borderMode=cv2.BORDER_REPLICATE), np.uint8
    )
    near = _warp(texture, p, target)
    other = _keep_gaze(_warp(flipped, mirrored, target), target, far_sign)
    out = _blend_sides(near, other, target, far_sign, w, shape.interocular(lm))
    return out, target.astype(np.float32)


def _blend_sides(
    near: Frame,
    other: Frame,
    target: NDArray[np.float64],
    far_sign: float,
    w: float,
    iod: float,
) -> Frame:
    """The near side's texture with its mirror image ``other`` blended in beyond the
    far nose wing, by ``w``. The nose stays the near side's own (its far flank, moved
    to the midline): a turned nose shows one broad flank, which mirrored would read as
    a second nose.

    The two sides' light seldom agrees at the seam (a nose flank beside a cheek):
    their broad tones are blended over a wide band centred on the nose wing, their
    detail over the narrow one (two bands, after Burt and Adelson's multiresolution
    spline), so neither a line nor a ghost of the far eye shows."""
    h, wd = near.shape[:2]
    wing = float(target[35 if far_sign > 0 else 31, 0])
    x = (np.arange(wd, dtype=np.float64)[None, :] - wing) * far_sign
    m = w * _smooth_ramp(x / _band_widths(target, h, iod)[:, None])
    m_wide = w * _smooth_ramp(x / (TONE_BAND * iod) + 0.5)
    sigma = TONE_SCALE * iod
    near_f, other_f = near.astype(np.float32), other.astype(np.float32)
    near_lo = np.asarray(cv2.GaussianBlur(near_f, (0, 0), sigma), np.float32)
    other_lo = np.asarray(cv2.GaussianBlur(other_f, (0, 0), sigma), np.float32)
    out = _mix(near_lo, other_lo, m_wide) + _mix(near_f - near_lo, other_f - other_lo, m)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _smooth_ramp(t: NDArray[np.float64]) -> NDArray[np.float32]:
    r = np.clip(t, 0.0, 1.0)
    return np.asarray(r * r * (3 - 2 * r), np.float32)


def _mix(
    a: NDArray[np.float32], b: NDArray[np.float32], m: NDArray[np.float32]
) -> NDArray[np.float32]:
    return np.asarray(a + m[:, :, None] * (b - a), np.float32)


def _keep_gaze(image: Frame, target: NDArray[np.float64], far_sign: float) -> Frame:
    """The mirrored far eye's opening flipped back about the eye's centre: a mirror
    turns a gaze to one side into a gaze to the other, so the two eyes would look
    apart (a staring, walleyed face). Lids and corners stay mirrored."""
    eye = target[shape.EYE_R if far_sign > 0 else shape.EYE_L]
    centre = float(eye[[0, 3], 0].mean())
    h, w = image.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    for outline in (eye, eye * (-1.0, 1.0) + (2 * centre, 0.0)):  # the opening either way
        cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 255)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 1.0)[:, :, None]
    flip = np.array([[-1.0, 0.0, 2 * centre], [0.0, 1.0, 0.0]])
    back = cv2.warpAffine(image, flip, (w, h), borderMode=cv2.BORDER_REPLICATE)
    out = image.astype(np.float32) * (1 - soft) + back.astype(np.float32) * soft
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _band_widths(target: NDArray[np.float64], rows: int, iod: float) -> NDArray[np.float64]:
    """Per row, the blend band's width (px): ``BAND`` on the cheeks, ``BAND_EYES`` from
    the brows to below the eyes. A wide band there would lay the stretched far eye and
    the mirrored near eye over each other: two eyes, one a ghost."""
    y = np.arange(rows, dtype=np.float64)
    top = float(target[17:27, 1].min()) - 0.1 * iod
    bottom = float(target[36:48, 1].max()) + 0.25 * iod
    fade = 0.2 * iod
    inside = np.clip(np.minimum(y - (top - fade), (bottom + fade) - y) / fade, 0.0, 1.0)
    return np.maximum((BAND - (BAND - BAND_EYES) * inside) * iod, 1.0)


def frontal_shape(p: NDArray[np.float64], midline: float) -> NDArray[np.float64]:
    """The 68 points as the face would show them frontally: the mean face at the
    fitted scale plus what departs from it in the face's frontal plane (its
    proportions), centred on ``midline``, eyes and chin at the same heights as in ``p``
    (a turn about the vertical axis leaves heights as they are)."""
    fit = pose.fit(p)
    f = fit.scale * pose.mean_face()[:, :2] + pose.frontal_offsets(p, fit)

    def eyes_y(q: NDArray[np.float64]) -> float:
        return float(q[36:48, 1].mean())

    k = (p[8, 1] - eyes_y(p)) / max(f[8, 1] - eyes_y(f), 1e-6)
    f = (f - np.array([f[_AXIS, 0].mean(), eyes_y(f)])) * k
    return np.asarray(f + np.array([midline, eyes_y(p)]), np.float64)


def _warp(image: Frame, src: NDArray[np.float64], dst: NDArray[np.float64]) -> Frame:
    """``image`` warped so that the 68 points (and the forehead raised from their
    brows) move from ``src`` to ``dst``; the image border stays put."""
    return np.asarray(warp_points(image, src, dst), np.uint8)
