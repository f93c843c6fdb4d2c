"""The identity's texture adapted to one template face track: shrunk to about the
track's scale, its fine detail matched to the track's, and its colour traded for the
light of the track's skin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import cv2
import numpy as np
from numpy.typing import NDArray

from server.engines import small_faces
from server.engines.classic_texture import Balance, ClassicFace
from server.types import Frame
from server.vision import color, detail, masks, shape, sharpen

if TYPE_CHECKING:
    from server.engines.classic_options import ClassicOptions


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

    def shrunk(image: NDArray[np.float32]) -> NDArray[np.float32]:
        return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.float32)

    def maybe(image: NDArray[np.float32] | None) -> NDArray[np.float32] | None:
        return None if image is None else shrunk(image)

    return replace(
        face,
        texture_lab=shrunk(face.texture_lab),
        points=(face.points * np.array([kx, ky], np.float32)).astype(np.float32),
        alpha=shrunk(face.alpha),
        skin=maybe(face.skin),
        filled=maybe(face.filled),
        beard=maybe(face.beard),
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
        return _sharpened(face, sharpen.amount_for(small_l, mask, target), k), per_frame
    lab = np.asarray(cv2.GaussianBlur(face.texture_lab, (0, 0), base / k), np.float32)
    return replace(face, texture_lab=lab), per_frame


def _sharpened(face: ClassicFace, amount: float, k: float) -> ClassicFace:
    """The texture unsharp-masked by ``amount`` (radius at the template's scale, ``k``
    template px per texture px), except over what was painted in."""
    where = None if face.filled is None else _own_texture(face.filled, face.points[:68])
    lab = sharpen.sharpened_lab(face.texture_lab, sharpen.RADIUS / k, amount, where)
    return replace(face, texture_lab=lab)


def _own_texture(filled: NDArray[np.float32], pts: NDArray[np.float32]) -> NDArray[np.float32]:
    """1 on the selfie's own texture, 0 on what was painted in and a margin around it.

    Sharpening brings up nothing but edges there: the fill's border against what is
    left of a blurred strand of hair, read as a thin dark line down the cheek."""
    iod = shape.interocular(pts)
    grown = masks.grown(filled > 0.5, max(1, int(round(0.12 * iod)))).astype(np.float32)
    near = cv2.GaussianBlur(grown, (0, 0), max(1.0, 0.05 * iod))
    return np.asarray(1.0 - np.clip(near, 0.0, 1.0), np.float32)


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


def white_balanced(
    face: ClassicFace, colour: NDArray[np.float32], present: list[int]
) -> ClassicFace:
    """``face`` with its colour traded for the light of the track's skin, its median
    mean colour over the frames (``colour``: per-frame Lab statistics), once per track:
    per frame, only the light's drift from it is added (see the face layer)."""
    stats = colour[present, 0]
    stats = stats[np.isfinite(stats).all(axis=1)]
    if not len(stats):  # no frame has skin statistics: none is swapped either
        return face
    light = np.asarray(np.median(stats, axis=0), np.float32)
    weight = color.balance_weight(face.stats[0], light)
    if weight <= 0:  # lights too far apart to trade (a strong colour filter)
        return face
    chroma = color.white_balanced(face.texture_lab, face.stats[0], light)
    return replace(face, balance=Balance(chroma, color.chromaticity(light), weight))


def track_face(
    face: ClassicFace,
    gain: float,
    feats: Mapping[str, NDArray[np.floating]],
    frames: Sequence[Frame],
    landmarks: NDArray[np.float32],
    present: list[int],
    iod: float,
    o: ClassicOptions,
) -> tuple[ClassicFace, NDArray[np.float32]]:
    """The identity's texture at about the track's scale and detail, and the extra
    blur per frame (see :func:`match_detail`); ``gain``: the colour transfer's
    lightness gain; ``feats``: the template's stored per-frame statistics (its face
    detail measured here where they lack it)."""
    scaled = at_scale(face, iod / shape.interocular(face.points[:68]))
    blur = np.zeros(len(landmarks), np.float32)
    if not o.match_detail:
        return scaled, blur
    details = feats.get("detail")
    if details is None or details.shape != (len(landmarks),):
        details = np.full(len(landmarks), np.nan)
        for i in present:
            details[i] = detail.face_detail(frames[i], landmarks[i])
    return match_detail(scaled, np.asarray(details), present, iod, gain, o.restore_detail)
