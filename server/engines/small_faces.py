"""Small template faces: what changes when a face is a few dozen pixels across.

Detail matching. The classic engine softens the selfie to the template face's fine
detail (mean absolute Laplacian inside the face). On a small face that measure is
mostly the features themselves (an eye is a few pixels wide), and a soft, low-
contrast template face asks for a blur of a pixel or more: enough to merge the
selfie's lashes, iris, lids and brows into dark blobs where the eyes should be (s18,
an inter-ocular distance of 28 px: eyes legible without the blur, blobs with it).
:func:`detail_share` fades that blur out below ``DETAIL_FULL_IOD`` (to none at
``DETAIL_NONE_IOD``). Kept at a third at s18's size, the eyes were legible but the
sharper face flickered (flicker 1.15-1.27 against the template's, bar 1.1) once the
colour transfer's lightness gain was capped (which had darkened the eyes into the
blobs in the first place); the fade now starts at 32 px, so s18 keeps five sixths.

Eyes. Below ``TEMPLATE_EYES_IOD`` px an eye opening is a dozen pixels wide and its
iris three or four: the selfie's iris, lashes and make-up, carried that small, read as
dark smudges (s42 on s18, 28 px), while the template's own eyes read as eyes. Such a
track keeps the template's eye openings; the selfie's lids, brows and the rest of its
face stay.

Scale. Below ``MIN_IOD`` px the mesh's triangles and the masks' feathers are smaller
than a pixel. Such a face is swapped in an enlarged copy of its neighbourhood and
area-averaged back, so every step works at a scale where the mesh holds and each
output pixel is the average of what it covers, as a camera's would be.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from server.engines.base import SwapResult
from server.types import Box, Frame
from server.vision import shape
from server.vision.boxes import clip_box, points_box

if TYPE_CHECKING:
    from server.engines.classic_options import TrackPlan

MIN_IOD = 24.0  # faces with a smaller inter-ocular distance are swapped enlarged
TEMPLATE_EYES_IOD = 36.0  # tracks with a smaller (median) one keep the template's eyes
DETAIL_NONE_IOD = 8.0  # no detail-matching blur at or below this inter-ocular distance
DETAIL_FULL_IOD = 32.0  # all of it from this one
MARGIN = 0.7  # neighbourhood around the landmarks, share of the face height

Swap = Callable[[Frame, int, NDArray[np.float32], Any, Any], SwapResult | None]


def detail_share(iod: float) -> float:
    """How much of the detail-matching blur a face of this inter-ocular distance takes."""
    span = DETAIL_FULL_IOD - DETAIL_NONE_IOD
    return float(np.clip((iod - DETAIL_NONE_IOD) / span, 0.0, 1.0))


def keeps_template_eyes(iod: float) -> bool:
    """Whether a track whose median inter-ocular distance is ``iod`` px keeps the
    template's eye openings."""
    return 0 < iod < TEMPLATE_EYES_IOD


def scale_for(lm: NDArray[np.float32]) -> float:
    """How much to enlarge a face before swapping it (1.0: not at all)."""
    iod = shape.interocular(lm)
    return 1.0 if iod >= MIN_IOD or iod <= 0 else MIN_IOD / iod


def scaled_plan(plan: TrackPlan, index: int, k: float) -> TrackPlan:
    """The track plan for frame ``index`` of a frame enlarged ``k`` times: its
    canonical-to-frame map and motion blur are in frame pixels."""
    to_frame = {index: plan.to_frame[index] * k}
    return dataclasses.replace(plan, to_frame=to_frame, blur=plan.blur * k)


def swap_enlarged(
    swap: Swap,
    frame: Frame,
    index: int,
    lm: NDArray[np.float32],
    face: Any,
    plan: TrackPlan,
    k: float,
) -> SwapResult | None:
    """``swap`` run on the face's neighbourhood enlarged ``k`` times; the result is
    area-averaged back into ``frame`` (in place), mixed by how much of each output
    pixel the swap covered, so untouched pixels stay exactly as they were."""
    h, w = frame.shape[:2]
    box = clip_box(points_box(lm, int(MARGIN * shape.face_height(lm)) + 2), w, h)
    if min(box.width, box.height) < 4:
        return None
    size = (round(box.width * k), round(box.height * k))
    kx, ky = size[0] / box.width, size[1] / box.height
    crop = frame[box.top : box.bottom, box.left : box.right]
    big = np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC), np.uint8)
    local = ((lm - np.array([box.left, box.top], np.float32)) * np.array([kx, ky])).astype(
        np.float32
    )
    result = swap(big, index, local, face, scaled_plan(plan, index, (kx + ky) / 2))
    if result is None:
        return None
    cover = np.zeros(big.shape[:2], np.float32)
    r = result.box
    cover[r.top : r.bottom, r.left : r.right] = result.mask
    shrink = (box.width, box.height)
    small = cv2.resize(big, shrink, interpolation=cv2.INTER_AREA).astype(np.float32)
    a = np.asarray(cv2.resize(cover, shrink, interpolation=cv2.INTER_AREA), np.float32)
    mixed = small * a[..., None] + crop.astype(np.float32) * (1 - a[..., None])
    crop[:] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return SwapResult(Box(box.left, box.top, box.right, box.bottom), a > 0)
