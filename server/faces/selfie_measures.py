"""Measurements of one selfie's face that say how well it will serve as a texture.

Every function takes the face already aligned by
:func:`server.faces.identity.aligned_texture` (``Frame`` BGR uint8, eyes level at a
fixed inter-ocular distance ``iod`` px) and its 68 landmarks in that crop, so sizes and
thresholds mean the same on every selfie. Pure numpy/cv2; nothing here decides what is
a problem (see :mod:`server.faces.coaching`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame, Landmarks68
from server.vision import pose, shape

BoolMask = NDArray[np.bool_]


@dataclass(frozen=True)
class HeadAngles:
    """Degrees; yaw positive towards image right, pitch positive looking down,
    roll positive clockwise in the image."""

    yaw: float
    pitch: float
    roll: float


def head_angles(lm: Landmarks68) -> HeadAngles:
    """Yaw and pitch from the weak-perspective fit of the 3D mean face, roll from the
    line through the eye centres."""
    fitted = pose.fit(lm)
    r = fitted.rotation
    pitch = float(np.degrees(np.arcsin(np.clip(r[1, 2], -1.0, 1.0))))
    a, b = shape.eye_centres(lm)
    roll = float(np.degrees(np.arctan2(b[1] - a[1], b[0] - a[0])))
    return HeadAngles(pose.yaw_degrees(fitted), pitch, roll)


def shape_residual(lm: Landmarks68) -> float:
    """How far the 48 rigid points (jaw, brows, nose, eyes) stray from the posed mean
    face: RMS distance in inter-ocular distances. A human face scores about 0.05-0.1;
    a landmark fit forced onto something else scores more."""
    fitted = pose.fit(lm)
    rigid = np.arange(48)
    err = np.asarray(lm, np.float64)[rigid] - fitted.project(pose.mean_face())[rigid]
    return float(np.sqrt((err**2).sum(1).mean()) / max(shape.interocular(lm), 1e-6))


def eye_openness_each(lm: Landmarks68) -> tuple[float, float]:
    """Eyelid gap over eye width of each eye (image-left first; about 0.3 open)."""

    def one(p: NDArray[np.floating]) -> float:
        gap = float(np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / 2
        return gap / max(float(np.linalg.norm(p[3] - p[0])), 1e-6)

    return one(lm[36:42]), one(lm[42:48])


def polygon(size: tuple[int, int], pts: np.ndarray) -> BoolMask:
    """Filled polygon as a boolean (h, w) mask; ``size`` is (h, w)."""
    mask = np.zeros(size, np.uint8)
    cv2.fillPoly(mask, [np.round(np.asarray(pts)).astype(np.int32)], 1)
    return mask.astype(bool)


def mouth_interior(tex: Frame, lm: Landmarks68) -> tuple[float, float]:
    """(share of the outer-lip area that is open mouth, share of that opening that is
    bright and colourless like teeth or pink-red and light like a tongue)."""
    size = tex.shape[:2]
    inner = polygon(size, lm[60:68])
    outer = polygon(size, lm[48:60])
    open_share = float(inner.sum()) / max(float(outer.sum()), 1.0)
    if inner.sum() < 12:
        return open_share, 0.0
    hsv = cv2.cvtColor(tex, cv2.COLOR_BGR2HSV).astype(np.float32)
    skin_v = float(np.median(hsv[..., 2][cheeks(tex, lm)]))
    px = hsv[inner]
    teeth = (px[:, 1] < 90) & (px[:, 2] > 0.75 * skin_v)
    return open_share, float(teeth.mean())


def cheeks(tex: Frame, lm: Landmarks68) -> BoolMask:
    """Both cheeks: between the jaw line, the lower eyelids and the nose's sides."""
    left, right = _cheek_pair(tex, lm)
    return left | right


def sharpness(tex: Frame, lm: Landmarks68, iod: float) -> float:
    """Laplacian energy of the face at a fixed scale with its contrast normalised,
    0..1 (log of the variance; 1 at a variance of 1000)."""
    k = 32.0 / iod  # measured at 32 px between the eyes, where skin texture is fine detail
    small = cv2.resize(tex, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    hull = polygon(small.shape[:2], cv2.convexHull(lm[:27].astype(np.float32) * k)[:, 0])
    hull = cv2.erode(hull.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float64)
    if hull.sum() <= 16:
        return 0.0
    gray *= 40.0 / max(float(gray[hull].std()), 4.0)  # contrast cancels: dim is not soft
    var = float(cv2.Laplacian(gray, cv2.CV_64F)[hull].var())
    return float(np.clip(np.log1p(var) / np.log1p(1000.0), 0.0, 1.0))


@dataclass(frozen=True)
class Lighting:
    """Face lightness (L of CIELAB, 0..100): mean, share of clipped-white pixels,
    and the difference between the two halves' means over the mean."""

    mean: float
    clipped: float
    asymmetry: float


def lighting(tex: Frame, lm: Landmarks68) -> Lighting:
    """Lightness of the face inside its jaw and brows, and how lopsided the light is:
    the two cheeks' median lightness compared (skin only, so hair at the temples and a
    turned head's background do not count)."""
    face = polygon(tex.shape[:2], cv2.convexHull(lm[:27].astype(np.float32))[:, 0])
    lab = cv2.cvtColor(tex, cv2.COLOR_BGR2LAB)
    light = lab[..., 0].astype(np.float32) * (100.0 / 255.0)
    mean = float(light[face].mean())
    clipped = float((light[face] > 97.0).mean())
    left, right = (light[m] for m in _cheek_pair(tex, lm))
    if len(left) < 20 or len(right) < 20:
        return Lighting(mean, clipped, 0.0)
    lmed, rmed = float(np.median(left)), float(np.median(right))
    return Lighting(mean, clipped, abs(lmed - rmed) / max(lmed, rmed, 1.0))


def _cheek_pair(tex: Frame, lm: Landmarks68) -> tuple[BoolMask, BoolMask]:
    """The inner cheeks (image-left, image-right): under the eye, beside the nose,
    halfway to the jaw line (where hair may hang)."""
    p = np.asarray(lm, np.float64)

    def core(eye: list[int], nose: int, corner: int, jaw: list[int]) -> BoolMask:
        outer = [(p[j] + p[k]) / 2 for j, k in zip(jaw, [corner, nose, eye[0]], strict=True)]
        return polygon(tex.shape[:2], np.array([p[eye[0]], p[eye[1]], p[nose], p[corner],
                                                *outer]))  # fmt: skip

    return core([41, 40], 31, 48, [3, 2, 1]), core([46, 47], 35, 54, [13, 14, 15])


def glasses_energy(tex: Frame, lm: Landmarks68) -> tuple[float, float]:
    """(bridge, rims): horizontal-edge energy where a frame would cross the nose bridge
    between the eyes, and where rims would run under the eyes, each over the face's
    mean gradient (so contrast and blur cancel). Bare skin there is smooth."""
    gray = cv2.cvtColor(tex, cv2.COLOR_BGR2GRAY).astype(np.float32)
    gy = np.abs(cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3))
    mag = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3), gy)
    iod = shape.interocular(lm)
    a, b = shape.eye_centres(lm)
    base = float(mag[cheeks(tex, lm)].mean()) + 1.0
    cx, cy = (a + b) / 2
    bridge = _box_rows(gy, cx - 0.1 * iod, cx + 0.1 * iod, cy - 0.3 * iod, cy + 0.1 * iod)
    rims = [_box_rows(gy, e[0] - 0.3 * iod, e[0] + 0.3 * iod, e[1] + 0.25 * iod, e[1] + 0.6 * iod)
            for e in (a, b)]  # fmt: skip
    return float(bridge.max()) / base, float(min(r.max() for r in rims)) / base


def _box_rows(img: NDArray[np.float32], x0: float, x1: float, y0: float, y1: float) -> NDArray:
    """Mean of each row of ``img`` inside the box (one value per row; a horizontal
    line across the box gives one strong row)."""
    h, w = img.shape
    xa, xb = int(np.clip(round(x0), 0, w - 1)), int(np.clip(round(x1), 1, w))
    ya, yb = int(np.clip(round(y0), 0, h - 1)), int(np.clip(round(y1), 1, h))
    patch = img[ya : max(yb, ya + 1), xa : max(xb, xa + 1)]
    return np.asarray(patch.mean(1), np.float64)


# Regions checked for cover (hand, hair, mask), each as landmark indices of a polygon.
_REGIONS = {
    "forehead": None,
    "left_cheek": [1, 2, 3, 4, 48, 31, 40, 41, 36],
    "right_cheek": [15, 14, 13, 12, 54, 35, 47, 46, 45],
    "nose": [27, 35, 34, 33, 32, 31],
    "upper_lip": [31, 32, 33, 34, 35, 53, 52, 51, 50, 49],
    "chin": [6, 7, 8, 9, 10, 55, 56, 57, 58, 59],
}


def region_masks(tex: Frame, lm: Landmarks68) -> dict[str, BoolMask]:
    """Boolean masks of the regions that are checked for cover."""
    size = tex.shape[:2]
    out = {}
    for name, idx in _REGIONS.items():
        if idx is None:
            top = shape.forehead_points(lm)
            out[name] = polygon(size, np.concatenate([lm[17:27], top[::-1]]))
        else:
            out[name] = polygon(size, lm[idx])
    return out


def reference_skin(tex: Frame, lm: Landmarks68) -> NDArray[np.float64]:
    """Median CIELAB (8-bit) of the skin on the nose bridge between the eyes: the
    colour the rest of the face is compared with. A face mask stops below it, hands and
    hair rarely reach it, and a glasses bridge is too thin to move the median."""
    lab = cv2.cvtColor(tex, cv2.COLOR_BGR2LAB)
    iod = shape.interocular(lm)
    top = np.asarray(lm[27], np.float64)
    pixels = _patch(lab, top + np.array([-0.12, 0.0]) * iod, top + np.array([0.12, 0.3]) * iod)
    if len(pixels) == 0:
        return np.array([128.0, 128.0, 128.0])
    return np.asarray(np.median(pixels, 0), np.float64)


def _crop(img: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """The part of ``img`` between corners ``p0`` and ``p1`` (x, y), clipped."""
    h, w = img.shape[:2]
    x0, y0 = int(np.clip(p0[0], 0, w)), int(np.clip(p0[1], 0, h))
    x1, y1 = int(np.clip(p1[0], 0, w)), int(np.clip(p1[1], 0, h))
    return img[y0:y1, x0:x1]


def _patch(lab: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> NDArray[np.float64]:
    return np.asarray(_crop(lab, p0, p1).reshape(-1, 3), np.float64)


# CIELAB weights: lightness counts for less, shading and beards change it more than
# cover does; colour (a, b) counts fully.
_LAB_WEIGHT = np.array([0.35, 1.0, 1.0])


def _lab_distance(a: NDArray[np.floating], b: NDArray[np.floating]) -> float:
    return float(np.linalg.norm((np.asarray(a) - np.asarray(b)) * _LAB_WEIGHT))


def region_distances(tex: Frame, lm: Landmarks68) -> dict[str, float]:
    """For each region, the median weighted CIELAB distance (8-bit units) of its
    pixels from the reference skin (:func:`reference_skin`)."""
    lab = cv2.cvtColor(tex, cv2.COLOR_BGR2LAB).astype(np.float64)
    ref = reference_skin(tex, lm)
    out = {}
    for name, mask in region_masks(tex, lm).items():
        px = lab[mask]
        if len(px) < 10:
            continue
        out[name] = float(np.median(np.linalg.norm((px - ref) * _LAB_WEIGHT, axis=1)))
    return out


def lip_contrast(tex: Frame, lm: Landmarks68) -> float:
    """Weighted CIELAB distance of the lips' median colour from the skin around the
    mouth (above the upper lip and on the chin). Lips stand out from skin; under a face
    mask there are no lips to see and the distance falls to a few units."""
    size = tex.shape[:2]
    lips = polygon(size, lm[48:60]) & ~polygon(size, lm[60:68])
    masks = region_masks(tex, lm)
    around = masks["upper_lip"] | masks["chin"]
    if lips.sum() < 10 or around.sum() < 10:
        return 0.0
    lab = cv2.cvtColor(tex, cv2.COLOR_BGR2LAB).astype(np.float64)
    return _lab_distance(np.median(lab[lips], 0), np.median(lab[around], 0))


def lower_face_chroma_gap(tex: Frame, lm: Landmarks68) -> float:
    """Colour-only (a, b of CIELAB, 8-bit) distance of the skin around the mouth (above
    the upper lip and on the chin) from the reference skin. A face mask, black, white or
    coloured, lacks skin's colour; shadow does not change it (and a grey photo has no
    colour to compare, so it reads 0)."""
    lab = cv2.cvtColor(tex, cv2.COLOR_BGR2LAB).astype(np.float64)
    masks = region_masks(tex, lm)
    around = masks["upper_lip"] | masks["chin"]
    if around.sum() < 10:
        return 0.0
    ref = reference_skin(tex, lm)
    return float(np.linalg.norm(np.median(lab[around][:, 1:], 0) - ref[1:]))
