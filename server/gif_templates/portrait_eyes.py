"""A motion clip's eye movements replayed on the animated portrait: where the clip's
irises sit across its eyes (read when its motion was extracted, see
:func:`server.vision.gaze.track_gaze`) moves the portrait's irises (its eyes split as the
classic swap splits a selfie's, :class:`server.vision.eyeball.Eyeball`).

The motion is relative, as the rest of the clip's: the portrait keeps its own gaze where
the clip starts and its irises move as far across as the clip's move from there. A
blurred portrait (under selfie coaching's sharpness line) keeps its irises: a sharp
eye opening with a flat white would be cut into its soft face.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from server.faces.coaching import BLUR
from server.faces.selfie_measures import sharpness
from server.types import Frame
from server.vision import color, eyeball, shape
from server.vision.boxes import clip_box, points_box

_EYES = (shape.EYE_L, shape.EYE_R)


class PortraitEyes:
    """The portrait's irises moved frame by frame as the clip's ``gaze`` (N, 2)."""

    def __init__(self, image: Frame, landmarks: NDArray[np.floating], gaze: NDArray) -> None:
        self.rest = np.asarray(landmarks, np.float64)
        self.shifts = np.zeros((len(gaze), 2, 2))  # (N, 2, 2) texture offsets per eye
        self.source = np.zeros((1, 1, 3), np.float32)
        marks = self.rest.astype(np.float32)
        if sharpness(image, marks, shape.interocular(marks)) < BLUR:
            return
        split = eyeball.Eyeball(color.to_lab(image), landmarks)
        relative = np.asarray(gaze, np.float64) - np.asarray(gaze, np.float64)[0]
        self.shifts = split.shifts(np.asarray(split.across) + relative)
        self.source = color.lab_to_bgr(split.image)

    @property
    def moves(self) -> bool:
        return bool(np.abs(self.shifts).max(initial=0.0) >= eyeball.LEAST_SHIFT)

    def move(self, frame: Frame, face: NDArray[np.floating], index: int) -> None:
        """``frame`` (the portrait warped so its landmarks lie at ``face``) with the
        irises of frame ``index`` of the clip, in place. Each eye's opening maps back
        to the portrait by the similarity of its corners (the warp is close to one
        there; the lids may have closed, the corners stay)."""
        h, w = frame.shape[:2]
        face = np.asarray(face, np.float64)
        for eye, shift in zip(_EYES, self.shifts[index], strict=True):
            if abs(shift[0]) + abs(shift[1]) < eyeball.LEAST_SHIFT:
                continue
            corners = [int(eye[0]), int(eye[3])]
            back = shape.similarity(face[corners], self.rest[corners])
            box = clip_box(points_box(face[eye], 3.0), w, h)
            if box.width < 2 or box.height < 2:
                continue
            ys, xs = np.mgrid[box.top : box.bottom, box.left : box.right].astype(np.float64)
            tx = (back[0, 0] * xs + back[0, 1] * ys + back[0, 2]).astype(np.float32)
            ty = (back[1, 0] * xs + back[1, 1] * ys + back[1, 2]).astype(np.float32)
            crop = frame[box.top : box.bottom, box.left : box.right].astype(np.float32)
            corner = np.array([box.left, box.top], np.float64)
            eyeball.look(
                crop,
                self.source,
                shift[None],
                tx,
                ty,
                [face[eye] - corner],
            )
            frame[box.top : box.bottom, box.left : box.right] = np.clip(crop + 0.5, 0, 255)
