"""The identity's texture for the classic engine: its feathered face mask, the weight
that leaves hair and background out, and its scale and fine detail matched to a
template face's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from numpy.typing import NDArray

from server.engines import small_faces
from server.engines.classic_shape import OUTLINE
from server.vision import detail, masks, shape, sharpen


@dataclass
class ClassicFace:
    """An identity prepared for this engine (once per render)."""

    texture_lab: NDArray[np.float32]
    points: NDArray[np.float32]  # (76, 2) in texture pixels
    alpha: NDArray[np.float32]  # texture-space feathered face mask
    stats: NDArray[np.float32]  # (2, 3) Lab mean/std of the face skin
    mouth_open: bool = False  # the selfie's lips are apart (expression, not identity)


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
    keep = _features_area(lab.shape[:2], lm, iod)
    weight = np.where(keep > 0, 1.0, weight).astype(np.float32)
    return np.asarray(cv2.GaussianBlur(weight, (0, 0), max(1.0, iod * 0.06)), np.float32)


def _features_area(size: tuple[int, int], lm: NDArray[np.float32], iod: float) -> NDArray[np.uint8]:
    """Where the texture is kept whatever its colour: the features' hull (dilated) below
    the eyes, and the eyes themselves."""
    keep = masks.hull_mask(size, lm[17:68]).astype(np.uint8)
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
    return keep


def at_scale(face: ClassicFace, scale: float) -> ClassicFace:
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


def match_detail(
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
    base, per_frame = _detail_blur(curve, detail_per_frame, present, iod)
    if base <= 0:
        if not restore:
            return face, per_frame
        target = sharpen.TARGET * float(np.nanmedian(detail_per_frame))
        amount = sharpen.amount_for(small_l, mask, target)
        lab = sharpen.sharpened_lab(face.texture_lab, sharpen.RADIUS / k, amount)
        return replace(face, texture_lab=lab), per_frame
    lab = np.asarray(cv2.GaussianBlur(face.texture_lab, (0, 0), base / k), np.float32)
    return replace(face, texture_lab=lab), per_frame


def _detail_blur(
    curve: NDArray[np.float64],
    detail_per_frame: NDArray[np.floating],
    present: list[int],
    iod: float,
) -> tuple[float, NDArray[np.float32]]:
    """The blur (template px) for the clip's typical frame, and the extra per frame."""
    base = detail.sigma_for(curve, float(np.nanmedian(detail_per_frame)))
    per_frame = np.zeros(len(detail_per_frame), np.float32)
    for i in present:
        sigma = detail.sigma_for(curve, float(detail_per_frame[i]))
        per_frame[i] = np.sqrt(max(0.0, sigma**2 - base**2))
    share = small_faces.detail_share(iod)  # small faces: the blur would merge the eyes
    base, per_frame = base * share, per_frame * share
    per_frame = np.convolve(per_frame, np.ones(3) / 3, mode="same").astype(np.float32)
    return base, per_frame
