"""One animator for a still face: the 68 landmarks and a head transform in, the warped
picture out. The authoring puppet (:mod:`.puppet`, expressions by name) and the classic
motion engine (:mod:`server.engines.motion_classic`, a clip's motion) both drive it.

The picture is warped over a triangle mesh: the face's landmarks, an inner ring around
the head that follows the head transform, an outer ring and the image border that stay
put, so the background between the rings bends gently and never tears. A mouth opened
beyond the picture's own gets a painted interior (dark gap, teeth, tongue); a closing
eye gets an eyelid.
"""

from __future__ import annotations

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
Matrix = NDArray[np.float64]  # (2, 3) similarity, source (x, y, 1) -> destination
# A fixed frame of points this far (of each side) inside the image keeps the outer band
# of the picture exactly still; ring points are kept inside it (the inner ring with room
# to move, outer ring points beyond it are dropped).
FRAME_INSET = 0.09
INNER_MARGIN = 0.16


class FaceRig:
    """One face in one image, ready to be warped frame after frame.

    ``u`` runs along the eyes (image-left eye to image-right eye), ``v`` perpendicular,
    down the face; ``iod`` is the inter-ocular distance in pixels."""

    def __init__(
        self,
        image: Frame,
        landmarks: Points | Landmarks68,
        opened: Points | None = None,
        still_frame: bool = True,
    ) -> None:
        """``opened``: the landmarks with the mouth open, so the mesh has triangles
        inside the lips (None: the mesh is made from ``landmarks``). ``still_frame``:
        keep the outer band of the picture exactly still (a fixed frame of points
        ``FRAME_INSET`` inside, the rings kept within it); False leaves the rings where
        the face puts them and only the image border fixed (authoring whole scenes)."""
        self.image = image
        self.face = np.asarray(landmarks, np.float64)
        left, right = self.face[36:42].mean(0), self.face[42:48].mean(0)
        self.iod = float(np.linalg.norm(right - left))
        self.u = (right - left) / self.iod
        self.v = np.array([-self.u[1], self.u[0]])
        self.centre = (left + right) / 2 + self.v * 0.55 * self.iod
        self.pivot = self.face[8] + self.v * 0.4 * self.iod  # the neck
        h, w = image.shape[:2]
        self.still_frame = still_frame
        self.inner, self.outer = self._rings(w, h, still_frame)
        self.border = border_points(w, h)
        if still_frame:
            self.border = np.concatenate([self.border, inset_points(w, h, FRAME_INSET)])
        mesh_face = self.face if opened is None else np.asarray(opened, np.float64)
        self.tris = triangulate(self._all(mesh_face, self.inner))
        self.colours = sample_colours(image, self.face)
        self.opening = mouth_opening(self.face[60:68])

    def _rings(self, w: int, h: int, still_frame: bool) -> tuple[Points, Points]:
        angles = np.linspace(0, 2 * np.pi, 18, endpoint=False)
        ring = np.stack([np.cos(angles), np.sin(angles)], 1)
        c = self.centre
        inner = c + (ring[:, :1] * 1.55 * self.u + ring[:, 1:] * 2.1 * self.v) * self.iod
        outer = c + (ring[:, :1] * 2.6 * self.u + ring[:, 1:] * 3.0 * self.v) * self.iod
        forehead = self.face[17:27:2] - self.v * 0.55 * self.iod
        if not still_frame:
            return np.concatenate([inner, forehead]), outer
        # Ring points that do not fit are left out (moved inward they could land on the
        # face and fold the mesh): the picture then bends between face and fixed frame.
        inner = np.concatenate([inner, forehead])
        inner = inner[_inside(inner, w, h, INNER_MARGIN)]
        ox, oy = (FRAME_INSET + 0.03) * w, (FRAME_INSET + 0.03) * h
        keep = (outer[:, 0] > ox) & (outer[:, 0] < w - 1 - ox)
        keep &= (outer[:, 1] > oy) & (outer[:, 1] < h - 1 - oy)
        return inner, outer[keep]

    def _all(self, face: Points, inner: Points) -> Points:
        return np.concatenate([face, inner, self.outer, self.border])

    def keep_inside(self, face: Points) -> Points:
        """``face`` kept within the still frame (a point past it would fold the mesh)."""
        if not self.still_frame:
            return face
        h, w = self.image.shape[:2]
        m = FRAME_INSET + 0.02
        return np.clip(face, (m * w, m * h), ((1 - m) * (w - 1), (1 - m) * (h - 1)))

    def render(self, face: Points, head: Matrix, blink: tuple[float, float] = (0.0, 0.0)) -> Frame:
        """The picture with its landmarks moved to ``face`` (68, 2), the ring around the
        head moved by ``head`` and the eyes closed by ``blink`` (image-left, image-right;
        0 open .. 1 closed)."""
        face = self.keep_inside(face)
        dst = self._all(face, apply(head, self.inner))
        src = self._all(self.face, self.inner)
        h, w = self.image.shape[:2]
        warped, _ = warp_mesh(self.image, src, dst, self.tris, Box(0, 0, w, h))
        frame = np.ascontiguousarray(warped, np.uint8)
        scale = float(np.sqrt(abs(np.linalg.det(head[:, :2]))))
        paint_mouth(frame, face[60:68], self.iod * scale, self.colours, self.opening * scale)
        for eye, amount in enumerate(blink):
            paint_closing_eye(frame, face[36 + 6 * eye : 42 + 6 * eye], amount, self.colours.skin)
        return frame


def _inside(pts: Points, w: int, h: int, margin: float) -> NDArray[np.bool_]:
    lo, hi = np.array([margin * w, margin * h]), np.array([(1 - margin) * w, (1 - margin) * h])
    return np.asarray(((pts > lo) & (pts < hi)).all(axis=1))


def apply(m: Matrix, pts: Points) -> Points:
    """Points (..., 2) mapped by the (2, 3) matrix ``m``."""
    return np.asarray(pts, np.float64) @ m[:, :2].T + m[:, 2]


def similarity(angle_deg: float, scale: float, pivot: Points, shift: Points) -> Matrix:
    """Rotation (clockwise on screen for positive angles) and scale about ``pivot``,
    then ``shift`` (pixels)."""
    rot = cv2.getRotationMatrix2D((float(pivot[0]), float(pivot[1])), -angle_deg, scale)
    m: Matrix = np.asarray(rot, np.float64)
    m[:, 2] += shift
    return m


def inset_points(w: int, h: int, inset: float, per_side: int = 24) -> Points:
    """Points on a rectangle ``inset`` (of each side) inside the image's border, close
    enough together that no mesh triangle reaches across it."""
    x0, y0 = inset * (w - 1), inset * (h - 1)
    pts = border_points(
        round((1 - 2 * inset) * (w - 1)) + 1, round((1 - 2 * inset) * (h - 1)) + 1, per_side
    )
    return pts + np.array([x0, y0])


def border_points(w: int, h: int, per_side: int = 5) -> Points:
    t = np.linspace(0, 1, per_side, endpoint=False)
    x, y = (w - 1) * t, (h - 1) * t
    sides = [
        np.stack([x, np.zeros_like(x)], 1),
        np.stack([np.full_like(y, w - 1), y], 1),
        np.stack([w - 1 - x, np.full_like(x, h - 1)], 1),
        np.stack([np.zeros_like(y), h - 1 - y], 1),
    ]
    return np.concatenate(sides)
