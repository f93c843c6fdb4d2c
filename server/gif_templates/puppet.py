"""Pose a still face by named expressions and head motion: an authoring aid
(tools.starter_templates makes the starter library with it; tests make talking clips
with it). The warping itself is :class:`~server.gif_templates.animate.FaceRig`, the
animator the classic motion engine drives too.

Edits are expressed in the face's own frame: ``u`` along the eyes (image-left eye to
image-right eye), ``v`` perpendicular, pointing down the face, in units of the
inter-ocular distance (IOD). A ring of points around the head follows the head pose, an
outer ring and the image border stay put, so the background only bends gently between
the two rings. An opened mouth gets a painted interior (dark, a band of teeth).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from server.gif_templates.animate import FaceRig, apply, similarity
from server.types import Frame, Landmarks68

Points = NDArray[np.float64]

# Jaw points and how much of the lower-lip drop they follow when the mouth opens.
_JAW_FOLLOW = {8: 0.95, 7: 0.9, 9: 0.9, 6: 0.7, 10: 0.7, 5: 0.45, 11: 0.45, 4: 0.2, 12: 0.2}
_LOWER_LIP = [55, 56, 57, 58, 59, 65, 66, 67]
# (point, du, dv) per unit of smile, in IOD.
_SMILE = [
    (48, -0.10, -0.11), (54, 0.10, -0.11), (60, -0.07, -0.08), (64, 0.07, -0.08),
    (49, -0.04, -0.05), (59, -0.04, -0.04), (53, 0.04, -0.05), (55, 0.04, -0.04),
    (61, -0.02, -0.03), (67, -0.02, -0.02), (63, 0.02, -0.03), (65, 0.02, -0.02),
    (31, -0.015, -0.01), (35, 0.015, -0.01), (40, 0.0, -0.03), (41, 0.0, -0.03),
    (46, 0.0, -0.03), (47, 0.0, -0.03), (3, -0.02, 0.0), (13, 0.02, 0.0),
]  # fmt: skip
_LIDS = [((37, 41), (38, 40)), ((43, 47), (44, 46))]  # (upper, lower) pairs per eye


@dataclass(frozen=True)
class Expression:
    """Amounts 0..1 (``brows`` -1..1: frown .. raised)."""

    mouth_open: float = 0.0
    smile: float = 0.0
    brows: float = 0.0
    blink: float = 0.0  # both eyes
    wink: float = 0.0  # image-left eye only


@dataclass(frozen=True)
class HeadPose:
    """Rotation (degrees, about the neck), shift (IOD) and scale of the head."""

    angle: float = 0.0
    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0


class FacePuppet:
    """One face in one image, posed by named expressions (drives :class:`FaceRig`)."""

    def __init__(self, image: Frame, landmarks: Landmarks68) -> None:
        face = np.asarray(landmarks, np.float64)
        self.rig = FaceRig(image, face, still_frame=False)
        self.face, self.iod, self.u, self.v = self.rig.face, self.rig.iod, self.rig.u, self.rig.v
        self.pivot, self.image = self.rig.pivot, image
        opened = self.expression_points(Expression(mouth_open=0.35))
        self.rig = FaceRig(image, face, opened, still_frame=False)

    def _move(self, pts: Points, index: int, du: float, dv: float) -> None:
        pts[index] += (du * self.u + dv * self.v) * self.iod

    def expression_points(self, expr: Expression, face: Points | None = None) -> Points:
        """The 68 landmarks with ``expr`` applied (head not moved)."""
        pts = np.array(self.face if face is None else face, np.float64, copy=True)
        drop = expr.mouth_open * 0.42
        for i in _LOWER_LIP:
            self._move(pts, i, 0.0, drop)
        for i, k in _JAW_FOLLOW.items():
            self._move(pts, i, 0.0, drop * k)
        for i in (48, 54, 60, 64):
            self._move(pts, i, 0.0, drop * 0.3)
        for i in (61, 62, 63):
            self._move(pts, i, 0.0, -drop * 0.1)
        for i, du, dv in _SMILE:
            self._move(pts, i, du * expr.smile, dv * expr.smile)
        self._brows(pts, expr.brows)
        for eye, amount in enumerate((max(expr.blink, expr.wink), expr.blink)):
            for upper, lower in _LIDS[eye]:
                gap = pts[lower] - pts[upper]
                pts[upper] += gap * 0.88 * amount
                pts[lower] -= gap * 0.12 * amount
        return pts

    def _brows(self, pts: Points, brows: float) -> None:
        if brows >= 0:
            for i in range(17, 27):
                self._move(pts, i, 0.0, -0.13 * brows * (1.15 if i in (20, 21, 22, 23) else 1.0))
            for i in (37, 38, 43, 44):
                self._move(pts, i, 0.0, -0.025 * brows)
        else:
            for i, du in ((20, 0.02), (21, 0.05), (22, -0.05), (23, -0.02)):
                self._move(pts, i, du * -brows, 0.07 * -brows)

    def head_transform(self, head: HeadPose) -> NDArray[np.float64]:
        """(2, 3) similarity for the head: rotation/scale about the neck, then shift."""
        shift = (head.dx * self.u + head.dy * self.v) * self.iod
        return similarity(head.angle, head.scale, self.pivot, shift)

    def render(self, expr: Expression, head: HeadPose) -> tuple[Frame, Points]:
        """The posed image and its 68 landmarks."""
        m = self.head_transform(head)
        face = apply(m, self.expression_points(expr))
        blink = (max(expr.blink, expr.wink), expr.blink)
        return self.rig.render(face, m, blink), face


def camera(frame: Frame, zoom: float, centre: tuple[float, float], angle: float = 0.0) -> Frame:
    """Whole-frame zoom (>= 1) and roll about ``centre``, like a handheld reaction cam."""
    m = cv2.getRotationMatrix2D(centre, angle, zoom)
    h, w = frame.shape[:2]
    out: Frame = cv2.warpAffine(
        frame, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )  # type: ignore[assignment]
    return out
