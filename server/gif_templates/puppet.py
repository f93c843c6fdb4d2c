"""Animate a still face: expressions and head motion by moving its 68 landmarks and
warping the image over a triangle mesh. An offline authoring aid (tools.starter_templates
makes the starter library with it; tests can make talking clips); not used by renders.

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

from server.gif_templates.paint import (
    mouth_opening,
    paint_closing_eye,
    paint_mouth,
    sample_colours,
)
from server.types import Box, Frame, Landmarks68
from server.vision.warp import triangulate, warp_mesh

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
    """One face in one image, ready to be posed frame after frame."""

    def __init__(self, image: Frame, landmarks: Landmarks68) -> None:
        self.image = image
        self.face = np.asarray(landmarks, np.float64)
        left, right = self.face[36:42].mean(0), self.face[42:48].mean(0)
        self.iod = float(np.linalg.norm(right - left))
        self.u = (right - left) / self.iod
        self.v = np.array([-self.u[1], self.u[0]])
        self.centre = (left + right) / 2 + self.v * 0.55 * self.iod
        self.pivot = self.face[8] + self.v * 0.4 * self.iod  # the neck
        self.inner, self.outer = self._rings()
        h, w = image.shape[:2]
        self.border = _border_points(w, h)
        self.tris = triangulate(self._all(self._opened(self.face), self.inner))
        self.colours = sample_colours(image, self.face)
        self.opening = mouth_opening(self.face[60:68])

    # -- geometry ------------------------------------------------------------------------
    def _rings(self) -> tuple[Points, Points]:
        angles = np.linspace(0, 2 * np.pi, 18, endpoint=False)
        ring = np.stack([np.cos(angles), np.sin(angles)], 1)
        c = self.centre
        inner = c + (ring[:, :1] * 1.55 * self.u + ring[:, 1:] * 2.1 * self.v) * self.iod
        outer = c + (ring[:, :1] * 2.6 * self.u + ring[:, 1:] * 3.0 * self.v) * self.iod
        forehead = self.face[17:27:2] - self.v * 0.55 * self.iod
        return np.concatenate([inner, forehead]), outer

    def _all(self, face: Points, inner: Points) -> Points:
        return np.concatenate([face, inner, self.outer, self.border])

    def _move(self, pts: Points, index: int, du: float, dv: float) -> None:
        pts[index] += (du * self.u + dv * self.v) * self.iod

    def _opened(self, face: Points, amount: float = 0.35) -> Points:
        return self.expression_points(Expression(mouth_open=amount), face)

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
        pivot = (float(self.pivot[0]), float(self.pivot[1]))
        m = np.asarray(cv2.getRotationMatrix2D(pivot, -head.angle, head.scale), np.float64)
        m[:, 2] += (head.dx * self.u + head.dy * self.v) * self.iod
        return m

    # -- rendering -----------------------------------------------------------------------
    def render(self, expr: Expression, head: HeadPose) -> tuple[Frame, Points]:
        """The posed image and its 68 landmarks."""
        m = self.head_transform(head)
        face = _apply(m, self.expression_points(expr))
        dst = self._all(face, _apply(m, self.inner))
        src = self._all(self.face, self.inner)
        h, w = self.image.shape[:2]
        warped, _ = warp_mesh(self.image, src, dst, self.tris, Box(0, 0, w, h))
        frame = np.ascontiguousarray(warped, np.uint8)
        scale = head.scale
        paint_mouth(frame, face[60:68], self.iod * scale, self.colours, self.opening * scale)
        for eye, amount in enumerate((max(expr.blink, expr.wink), expr.blink)):
            paint_closing_eye(frame, face[36 + 6 * eye : 42 + 6 * eye], amount, self.colours.skin)
        return frame, face


def _apply(m: NDArray[np.float64], pts: Points) -> Points:
    return pts @ m[:, :2].T + m[:, 2]


def _border_points(w: int, h: int, per_side: int = 5) -> Points:
    t = np.linspace(0, 1, per_side, endpoint=False)
    x, y = (w - 1) * t, (h - 1) * t
    sides = [
        np.stack([x, np.zeros_like(x)], 1),
        np.stack([np.full_like(y, w - 1), y], 1),
        np.stack([w - 1 - x, np.full_like(x, h - 1)], 1),
        np.stack([np.zeros_like(y), h - 1 - y], 1),
    ]
    return np.concatenate(sides)


def camera(frame: Frame, zoom: float, centre: tuple[float, float], angle: float = 0.0) -> Frame:
    """Whole-frame zoom (>= 1) and roll about ``centre``, like a handheld reaction cam."""
    m = cv2.getRotationMatrix2D(centre, angle, zoom)
    h, w = frame.shape[:2]
    out: Frame = cv2.warpAffine(
        frame, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )  # type: ignore[assignment]
    return out
