"""What a mesh warp cannot invent when a still face is animated: lips closed over what
a picture's open mouth showed (the inside of an opened mouth: :mod:`.mouth_interior`;
a shut eyelid: :mod:`server.vision.lids`; see :mod:`.puppet`). Colours are
taken from the picture itself (its lips and skin), so a varnished painting gets
varnished teeth. Frames are BGR uint8 and painted in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame
from server.vision.layers import box_around, composite, mix, polygon

Points = NDArray[np.float64]
Colour = NDArray[np.float64]  # BGR


@dataclass(frozen=True)
class FaceColours:
    """BGR colours of one face, sampled from its picture."""

    lips: Colour
    skin: Colour
    teeth: Colour


def sample_colours(image: Frame, face: Points) -> FaceColours:
    """Lips (between outer and inner lip lines), skin (nose and cheeks) and teeth: the
    brighter pixels inside the mouth if it shows them, else a tone made from the skin."""
    lips_mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(lips_mask, [np.round(face[48:60]).astype(np.int32)], 1)
    cv2.fillPoly(lips_mask, [np.round(face[60:68]).astype(np.int32)], 0)
    lips = np.median(image[lips_mask > 0], axis=0) if lips_mask.any() else np.array([60, 60, 150])
    cheek_mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(cheek_mask, [np.round(face[[1, 28, 15, 13, 33, 3]]).astype(np.int32)], 1)
    skin = np.median(image[cheek_mask > 0], axis=0) if cheek_mask.any() else lips
    teeth = _tone(np.asarray(skin, np.float64))
    iod = float(np.linalg.norm(face[42:48].mean(0) - face[36:42].mean(0)))
    if mouth_opening(face[60:68]) > 0.06 * iod:
        mouth_mask = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(mouth_mask, [np.round(face[60:68]).astype(np.int32)], 1)
        inside = image[mouth_mask > 0].astype(np.float64)
        bright = inside[inside.sum(1) >= np.percentile(inside.sum(1), 75)]
        if len(bright) >= 4 and bright.mean() > 0.9 * float(np.mean(skin)):
            teeth = np.median(bright, axis=0)
    return FaceColours(np.asarray(lips, np.float64), np.asarray(skin, np.float64), teeth)


def mouth_opening(inner: Points) -> float:
    """Mean gap (px) between the inner lips (``inner``: landmarks 60-67)."""
    return float(np.linalg.norm(inner[[5, 6, 7]] - inner[[3, 2, 1]], axis=1).mean())


def fill_open_mouth(image: Frame, face: Points, colours: FaceColours) -> Frame:
    """A copy of ``image`` with what its open mouth shows (the inside of the inner lips,
    and teeth or dark gap dlib's lip points leave outside them) filled in from the lips
    around it, so lips warped shut over it close on lip colour."""
    box = box_around(image, face[48:60], 4)
    if box is None:
        return image.copy()
    x0, y0, x1, y1 = box
    region = image[y0:y1, x0:x1]
    size = (x1 - x0, y1 - y0)
    outer = polygon(size, face[48:60] - (x0, y0)) > 0
    inner = cv2.dilate(polygon(size, face[60:68] - (x0, y0)), np.ones((3, 3), np.uint8)) > 0
    lum, lips = region.astype(np.float32).mean(axis=2), float(colours.lips.mean())
    chroma = np.ptp(region.astype(np.float32), axis=2)
    teeth = (lum > 1.15 * lips) & (chroma < 0.6 * float(np.ptp(colours.lips)) + 10)
    mask = inner | (outer & ((lum < 0.6 * lips) | teeth))
    out = image.copy()
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2)
    out[y0:y1, x0:x1] = cv2.inpaint(np.ascontiguousarray(region), grown, 3, cv2.INPAINT_TELEA)
    return out


def paint_closed_lips(
    frame: Frame, inner: Points, iod: float, colours: FaceColours, amount: float = 1.0
) -> None:
    """Lip colour over the inner-lip polygon (``inner``: landmarks 60-67), grown by a
    little, with a soft darker line where the lips meet: what is left of a picture's open
    mouth (teeth, dark gap) once its lips are warped shut. ``amount``: 0..1."""
    grow = max(1.0, 0.02 * iod)
    box = box_around(frame, inner, int(np.ceil(grow)) + 3)
    if amount <= 0 or box is None:
        return
    x0, y0, x1, y1 = box
    # Soft shapes at the picture's own resolution (sub-pixel outlines): a frame's cost
    # stays small.
    local = np.round((inner - (x0, y0)) * 16).astype(np.int32)
    shape = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.fillPoly(shape, [local], 1.0, cv2.LINE_AA, shift=4)
    cv2.polylines(shape, [local], True, 1.0, 1, cv2.LINE_AA, shift=4)
    radius = int(np.ceil(grow))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    cover = cv2.GaussianBlur(cv2.dilate(shape, kernel), (0, 0), 0.5 * grow)
    seam = np.zeros_like(shape)
    meet = (local[[0, 1, 2, 3, 4]] + local[[0, 7, 6, 5, 4]]) // 2
    cv2.polylines(seam, [meet], False, 1.0, 1, cv2.LINE_AA, shift=4)
    colour = np.empty((y1 - y0, x1 - x0, 3), np.float32)
    colour[:] = colours.lips
    colour = mix(colour, colours.lips * 0.55, cv2.GaussianBlur(seam, (0, 0), 0.6))
    composite(frame, box, colour, np.clip(cover, 0.0, 1.0) * float(min(amount, 1.0)))


def _tone(skin: Colour) -> Colour:
    """Off-white in the picture's light: the skin's hue, lighter and less saturated."""
    grey = float(skin.mean())
    tone = 0.7 * skin + 0.3 * grey
    return np.clip(tone * (min(235.0, 1.3 * grey + 25) / max(float(tone.mean()), 1.0)), 0, 250)
