"""One animator for a still face: the 68 landmarks and a head transform in, the warped
picture out. The authoring puppet (:mod:`.puppet`, expressions by name) and the classic
motion engine (:mod:`server.engines.motion_classic`, a clip's motion) both drive it.

The picture is warped over a triangle mesh: the face's landmarks, an inner ring around
the head that follows the head transform, an outer ring and the image border that stay
put, so the background between the rings bends gently and never tears. A mouth opened
beyond the rest pose's gets a painted interior (dark gap, teeth, tongue), a picture's
open mouth warped shut gets lip colour over what it showed; a closing eye, an eyelid.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from numpy.typing import NDArray

from server.gif_templates.folds import flips, fold_checked, slivers, unfolded
from server.gif_templates.lattice_warp import GRID, warp_moving
from server.gif_templates.lift import DEPTH, turned
from server.gif_templates.motion import as_complex, as_points, face_frame
from server.gif_templates.mouth_interior import paint_mouth
from server.gif_templates.paint import (
    fill_open_mouth,
    mouth_opening,
    paint_closed_lips,
    sample_colours,
)
from server.types import Frame, Landmarks68
from server.vision.lids import paint_shut_lid
from server.vision.warp import triangulate

Points = NDArray[np.float64]
Matrix = NDArray[np.float64]  # (2, 3) similarity, source (x, y, 1) -> destination
# A fixed frame of points this far (of each side) inside the image keeps the outer band
# of the picture exactly still; ring points are kept inside it (the inner ring with room
# to move, outer ring points beyond it are dropped).
FRAME_INSET = 0.09
INNER_MARGIN = 0.16
FREE_ROOM = 0.5  # IOD: fixed-frame points this near a landmark in the band are left out
RING_DEPTH = -0.5  # face units: the ring around the head turns like the head's sides
RING_WIDTH, RING_HEIGHT = 1.55, 2.1  # IOD: the inner ring's half-axes around the face
RING_ROOM = 0.35  # IOD: the least room between the jaw line and the inner ring
OUTER_RING = (2.6, 3.0)  # IOD: the outer ring's half-axes (wider with the inner ring)


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
        the face puts them and only the image border fixed (authoring whole scenes).
        The rest pose is the picture's landmarks until :meth:`set_rest`."""
        self.image = self.picture = image
        self.face = np.asarray(landmarks, np.float64)
        left, right = self.face[36:42].mean(0), self.face[42:48].mean(0)
        self.iod = float(np.linalg.norm(right - left))
        self.u = (right - left) / self.iod
        self.v = np.array([-self.u[1], self.u[0]])
        self.centre = (left + right) / 2 + self.v * 0.55 * self.iod
        self.pivot = self.face[8] + self.v * 0.4 * self.iod  # the neck
        h, w = image.shape[:2]
        self.still_frame = still_frame
        # Landmarks the picture has in its still band (a chin at the crop's edge) are
        # not kept inside; the fixed frame is left open around them.
        self.free = still_frame & (self._clipped(self.face) != self.face).any(axis=1)
        self.inner, self.inner_depth, self.outer = self._rings(w, h, still_frame)
        self.origin, self.axis = face_frame(self.face)
        self.border = self._fixed(w, h)
        mesh_face = self.face if opened is None else np.asarray(opened, np.float64)
        self.tris = triangulate(self._all(mesh_face, self.inner))
        self.src = self._all(self.face, self.inner)
        self.foldable = fold_checked(self.src, self._all(mesh_face, self.inner), self.tris)
        self.checked = self.foldable
        self.colours = sample_colours(image, self.face)
        self.set_rest(self.face)

    def set_rest(self, rest: Points) -> None:
        """Where a motion starts from (68, 2), when not the picture's landmarks (the
        mouth closed, :mod:`.rest_mouth`): the mesh at rest (folds draw back to it) and
        its mouth; what the picture's mouth shows beyond it is filled in from the lips
        and covered with lip colour."""
        rest = np.asarray(rest, np.float64)
        self.base = self._all(self.keep_inside(rest), self.inner)
        self.checked = self.foldable[~slivers(self.base, self.tris[self.foldable])]
        self.opening = mouth_opening(rest[60:68])
        shut = mouth_opening(self.face[60:68]) - self.opening  # px of open mouth closed
        self.cover = float(np.clip(shut / (0.03 * self.iod), 0.0, 1.0))
        self.image = self.picture
        if self.cover > 0:
            self.image = fill_open_mouth(self.picture, self.face, self.colours)

    def _fixed(self, w: int, h: int) -> Points:
        """The image border and, with a still frame, the fixed frame (open by landmarks)."""
        if not self.still_frame:
            return border_points(w, h)
        inset = inset_points(w, h, FRAME_INSET)
        gaps = np.linalg.norm(inset[:, None] - self.face[self.free][None], axis=2)
        near = (gaps < FREE_ROOM * self.iod).any(axis=1)
        return np.concatenate([border_points(w, h), inset[~near]])

    def _rings(self, w: int, h: int, still_frame: bool) -> tuple[Points, Points, Points]:
        """The inner ring (around the head, then points on the forehead), the depth of
        each (face units, for head turns) and the outer ring."""
        angles = np.linspace(0, 2 * np.pi, 18, endpoint=False)
        ring = np.stack([np.cos(angles), np.sin(angles)], 1)
        c = self.centre
        # Each side's half-width; authoring poses whole scenes with the usual ring.
        sides = self._ring_widths() if still_frame else (RING_WIDTH, RING_WIDTH)
        wide = np.where(ring[:, :1] < 0, *sides)
        across, down = ring[:, :1] * self.u, ring[:, 1:] * self.v
        inner = c + (across * wide + down * RING_HEIGHT) * self.iod
        wide_out = OUTER_RING[0] + (wide - RING_WIDTH)  # the same band between the rings
        outer = c + (across * wide_out + down * OUTER_RING[1]) * self.iod
        forehead = self.face[17:27:2] - self.v * 0.55 * self.iod
        depth = np.concatenate([np.full(len(inner), RING_DEPTH), DEPTH[17:27:2]])
        inner = np.concatenate([inner, forehead])
        if not still_frame:
            return inner, depth, outer
        # Ring points that do not fit are left out (moved inward they could land on the
        # face and fold the mesh): the picture then bends between face and fixed frame.
        fits = _inside(inner, w, h, INNER_MARGIN)
        ox, oy = (FRAME_INSET + 0.03) * w, (FRAME_INSET + 0.03) * h
        keep = (outer[:, 0] > ox) & (outer[:, 0] < w - 1 - ox)
        keep &= (outer[:, 1] > oy) & (outer[:, 1] < h - 1 - oy)
        return inner[fits], depth[fits], outer[keep]

    def _ring_widths(self) -> tuple[float, float]:
        """The inner ring's half-width (IOD) on the image-left and -right side of the
        face: ``RING_WIDTH``, or wider where the jaw line comes nearer than
        ``RING_ROOM`` to it. A turned face's near cheek reaches past the usual ring (up to
        2 IOD from the centre on a three-quarter portrait); a ring through the cheek
        folds the mesh as soon as the mouth widens or the head moves."""
        rel = (self.face[:17] - self.centre) / self.iod
        x, y = rel @ self.u, rel @ self.v
        # A point (x, y) is RING_ROOM inside an ellipse of half-width a, half-height b
        # when |x| + RING_ROOM <= a sqrt(1 - (y / b)^2).
        need = (np.abs(x) + RING_ROOM) / np.sqrt(np.maximum(1 - (y / RING_HEIGHT) ** 2, 0.2))
        left, right = need[x < 0], need[x >= 0]
        return (
            max(RING_WIDTH, float(left.max()) if len(left) else 0.0),
            max(RING_WIDTH, float(right.max()) if len(right) else 0.0),
        )

    def mesh(
        self,
        face: Points,
        head: Matrix,
        turn: tuple[float, float] = (0.0, 0.0),
        unfold: bool = True,
    ) -> Points:
        """Where the mesh points go (``self.src`` order) for :meth:`render`'s arguments;
        ``unfold``: drawn back toward the rest pose until no triangle flips."""
        ring = apply(head, self.inner) + self._ring_turn(head, turn)
        dst = self._all(self.keep_inside(face), ring)
        return unfolded(self.src, dst, self.tris[self.checked], self.base) if unfold else dst

    def _ring_turn(self, head: Matrix, turn: tuple[float, float]) -> Points:
        """Pixel displacement of the inner ring's points by a head turn."""
        if turn == (0.0, 0.0):
            return np.zeros_like(self.inner)
        units = (as_complex(self.inner) - self.origin) / self.axis
        moved = turned(units, self.inner_depth, *turn) - units
        scale_roll = complex(head[0, 0], head[1, 0])
        return as_points(self.axis * scale_roll * moved)

    def _all(self, face: Points, inner: Points) -> Points:
        return np.concatenate([face, inner, self.outer, self.border])

    def keep_inside(self, face: Points) -> Points:
        """``face`` kept within the still frame (a point past it would fold the mesh);
        points the picture itself has past it are left free."""
        if not self.still_frame:
            return face
        return np.where(self.free[:, None], face, self._clipped(face))

    def _clipped(self, face: Points) -> Points:
        h, w = self.image.shape[:2]
        m = FRAME_INSET + 0.02
        return np.clip(face, (m * w, m * h), ((1 - m) * (w - 1), (1 - m) * (h - 1)))

    def folds(self, face: Points) -> bool:
        """Whether the picture warped to landmarks ``face`` (head still) would fold."""
        return self.would_fold(face, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))

    def would_fold(
        self, face: Points, head: Matrix, turn: tuple[float, float] = (0.0, 0.0)
    ) -> bool:
        """Whether :meth:`render`'s mesh for these arguments would fold undrawn."""
        dst = self.mesh(face, head, turn, unfold=False)
        return flips(self.src, dst, self.tris[self.checked])

    def render(
        self,
        face: Points,
        head: Matrix,
        blink: tuple[float, float] = (0.0, 0.0),
        turn: tuple[float, float] = (0.0, 0.0),
        irises: Callable[[Frame, Points], None] | None = None,
    ) -> Frame:
        """The picture with its landmarks moved to ``face`` (68, 2), the ring around the
        head moved by ``head`` and turned with the head by ``turn`` (yaw, pitch radians,
        each ring point at its depth), the irises moved by ``irises`` (given the warped
        frame and its landmarks), the eyes closed by ``blink`` (image-left,
        image-right; 0 open .. 1 closed). With a still frame, a mesh that would fold is
        drawn back toward the rest pose until no triangle flips."""
        # Authoring (no still frame) poses whole scenes on purpose and is left as posed.
        dst = self.mesh(face, head, turn, unfold=self.still_frame)
        face = dst[:68]
        # Authoring (no still frame) is offline and warps exactly; renders use the lattice.
        grid = GRID if self.still_frame else 1
        frame = warp_moving(self.image, self.src, dst, self.tris, grid)
        if irises is not None:
            irises(frame, face)
        scale = float(np.sqrt(abs(np.linalg.det(head[:, :2]))))
        if self.cover > 0:
            paint_closed_lips(frame, face[60:68], self.iod * scale, self.colours, self.cover)
        paint_mouth(frame, face[60:68], self.iod * scale, self.colours, self.opening * scale)
        for eye, amount in enumerate(blink):
            paint_shut_lid(frame, face[36 + 6 * eye : 42 + 6 * eye], amount, self.colours.skin)
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
