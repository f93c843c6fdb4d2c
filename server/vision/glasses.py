"""Spectacles on a face: how sure we are there is a pair, and where its frames lie.

Everything is measured in a canonical crop that follows the eyes (eye centres level,
``CANON_IOD`` px apart), so the mask of a template frame can be stored small and warped
back into any frame from its landmarks alone (:func:`to_canonical`).

Frames are thin lines, darker or brighter than the skin around them (black plastic,
clear acetate, polished metal), in lightness or in colour: a morphological black-hat
and top-hat at about a seventh of the inter-ocular distance find them. Faces have thin
lines of their own (lids, lashes, brows, creases), so frames are looked for only where
spectacles sit: each lens outline is the closed path of strongest lines around an eye
(dynamic programming over rays at lens distance, kept off lids, lashes and brows), the
bridge and the temples the strongest horizontal paths between and beyond the eyes.

Whether there is a pair at all is told by the bridge: a horizontal bar across the
nose between the eyes, where a face without glasses is smooth skin, against the line
strength of the cheeks (creases at the nose root are short, brows lie above it).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Affine, Box, Frame
from server.vision import shape

CANON_W, CANON_H = 128, 96  # canonical crop, px
CANON_IOD = 48.0  # eye centres' distance in it
CANON_EYES_Y = 36.0
_ANGLES = 48  # rays around each eye
_RHO = np.linspace(0.55, 1.45, 19)  # ray samples, share of the nominal lens ellipse
_LENS = (0.42, 0.30)  # nominal lens semi-axes, share of the inter-ocular distance
_LINE_KERNEL = 7  # thinner than this (px, canonical) counts as a line
_LASHES = 4  # lines this close to the eye's outline (px) are lids and lashes
EVIDENCE_AT = 0.5  # glasses_evidence at or above this: a pair of glasses


def track_wears(evidence: NDArray[np.floating] | None) -> bool:
    """Whether a face track wears glasses: the median of its per-frame evidence (NaN
    where the face is absent) at or above :data:`EVIDENCE_AT`; False with none."""
    if evidence is None:
        return False
    values = np.asarray(evidence, np.float64)
    values = values[np.isfinite(values)]
    return values.size > 0 and float(np.median(values)) >= EVIDENCE_AT


def to_canonical(lm: NDArray[np.floating]) -> Affine:
    """(2, 3) similarity from frame pixels into the canonical crop of face ``lm``."""
    a, b = shape.eye_centres(lm.astype(np.float32))
    half = CANON_IOD / 2
    dst = np.array([[CANON_W / 2 - half, CANON_EYES_Y], [CANON_W / 2 + half, CANON_EYES_Y]])
    return shape.similarity(np.stack([a, b]), dst)


def canonical_crop(frame: Frame, lm: NDArray[np.floating]) -> tuple[Frame, NDArray[np.float64]]:
    """The canonical crop of the face and its landmarks in crop pixels."""
    m = to_canonical(lm)
    crop = cv2.warpAffine(frame, m, (CANON_W, CANON_H), flags=cv2.INTER_AREA)
    return np.asarray(crop, np.uint8), shape.apply_affine(m, lm)


def _channels(crop: Frame) -> list[NDArray[np.float32]]:
    """Lightness and the two colour axes (these doubled): clear or metal frames on
    pale skin can be as light as the skin and differ only in colour."""
    lab = np.asarray(cv2.cvtColor(crop, cv2.COLOR_BGR2LAB), np.float32)
    return [lab[:, :, 0], lab[:, :, 1] * 2.0, lab[:, :, 2] * 2.0]


_DARK, _BRIGHT = (cv2.MORPH_BLACKHAT,), (cv2.MORPH_TOPHAT,)


def line_response(crop: Frame, ops: tuple[int, ...] = _DARK + _BRIGHT) -> NDArray[np.float32]:
    """Strength of thin lines (grey levels) per pixel: lower than their surroundings
    in some channel (``_DARK``), higher (``_BRIGHT``) or either (the default)."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (_LINE_KERNEL, _LINE_KERNEL))
    out = np.zeros(crop.shape[:2], np.float32)
    for channel in _channels(crop):
        smooth = np.asarray(cv2.GaussianBlur(channel, (0, 0), 0.7), np.float32)
        for op in ops:
            out = np.maximum(out, np.asarray(cv2.morphologyEx(smooth, op, k), np.float32))
    return out


def horizontal_lines(channel: NDArray[np.float32]) -> NDArray[np.float32]:
    """Strength of thin, roughly horizontal lines (long along x) in one channel: skin
    texture, pores and paint cracks are short and average out."""
    smooth = np.asarray(cv2.GaussianBlur(channel, (0, 0), sigmaX=3.0, sigmaY=1.0), np.float32)
    return np.abs(np.asarray(cv2.Sobel(smooth, cv2.CV_32F, 0, 2, ksize=3), np.float32))


def glasses_evidence(frame: Frame, lm: NDArray[np.floating]) -> float:
    """0..1: how sure we are the face wears glasses (:data:`EVIDENCE_AT` and above: yes)."""
    crop, pts = canonical_crop(frame, lm)
    return evidence(crop, pts)


def evidence(crop: Frame, pts: NDArray[np.float64]) -> float:
    """:func:`glasses_evidence` on a canonical crop: a bar across the nose bridge
    between the eyes, against the line strength of the cheeks below (per channel, the
    clearest one counts)."""
    x0, x1 = int(pts[39, 0] + 0.1 * CANON_IOD), int(pts[42, 0] - 0.1 * CANON_IOD)
    y0, y1 = int(CANON_EYES_Y - 0.3 * CANON_IOD), int(CANON_EYES_Y + 0.05 * CANON_IOD)
    cy0, cy1 = int(CANON_EYES_Y + 0.55 * CANON_IOD), int(min(pts[33, 1], CANON_H - 1))
    cx0, cx1 = int(pts[31, 0] - 0.35 * CANON_IOD), int(pts[35, 0] + 0.35 * CANON_IOD)
    if x1 - x0 < 3 or cy1 - cy0 < 2:
        return 0.0
    ratio = 0.0
    for channel in _channels(crop):
        lines = horizontal_lines(channel)
        bridge = float(lines[max(0, y0) : y1, x0:x1].mean(1).max())
        floor = float(np.median(lines[cy0:cy1, max(0, cx0) : cx1])) + 0.5
        ratio = max(ratio, bridge / floor)
    return float(np.clip((ratio - _BRIDGE_NONE) / _BRIDGE_SPAN, 0.0, 1.0))


_BRIDGE_NONE = 1.8  # bridge line strength over the cheeks' on faces without glasses ...
_BRIDGE_SPAN = 1.4  # ... and the rise above it to sure glasses


def glasses_mask(frame: Frame, lm: NDArray[np.floating]) -> NDArray[np.float32]:
    """0..1 mask of the spectacle frames in the canonical crop of face ``lm``; all zero
    when :func:`glasses_evidence` is below :data:`EVIDENCE_AT`."""
    crop, pts = canonical_crop(frame, lm)
    if evidence(crop, pts) < EVIDENCE_AT:
        return np.zeros((CANON_H, CANON_W), np.float32)
    return frames_mask(crop, pts)


def frames_mask(crop: Frame, pts: NDArray[np.float64]) -> NDArray[np.float32]:
    """The frames' mask in a canonical crop known to show glasses: each lens outline,
    the bridge and the temples where their lines are strong, 2 px wide (as wide as
    the template's skin can be kept around thin frames without showing its face)
    and softened."""
    response = line_response(crop)
    rims = _lens_outlines(crop, pts)
    on_rims = np.concatenate([_sample(response, xs, ys) for xs, ys in rims])
    floor = max(3.0, 0.4 * float(np.median(on_rims)))
    canvas = np.zeros((CANON_H, CANON_W), np.uint8)
    for (xs, ys), closed in [(r, True) for r in rims] + [(b, False) for b in _bars(crop, pts)]:
        strong = _sample(response, xs, ys) > floor
        ends = np.round(np.stack([xs, ys], 1) * 4).astype(np.int32)
        for k in range(len(xs) if closed else len(xs) - 1):
            j = (k + 1) % len(xs)
            if strong[k] and strong[j]:
                cv2.line(canvas, tuple(ends[k]), tuple(ends[j]), 1, 2, cv2.LINE_8, shift=2)
    kept = canvas.astype(np.float32) * _eye_exclusion(pts)
    return np.asarray(cv2.GaussianBlur(kept, (0, 0), 0.7), np.float32)


def _sample(
    image: NDArray[np.float32], xs: NDArray[np.floating], ys: NDArray[np.floating]
) -> NDArray[np.float32]:
    mx, my = (np.asarray(v, np.float32)[None, :] for v in (xs, ys))
    return np.asarray(cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderValue=0.0), np.float32)[0]


def _eye_exclusion(pts: NDArray[np.float64], grow: int = 2) -> NDArray[np.float32]:
    """1 outside the eye openings (lids and lashes grown by ``grow`` px), 0 on them."""
    keep = np.ones((CANON_H, CANON_W), np.uint8)
    for eye in (shape.EYE_L, shape.EYE_R):
        poly = np.round(pts[eye]).astype(np.int32)
        cv2.fillPoly(keep, [poly], 0)
        cv2.polylines(keep, [poly], True, 0, 2 * grow)
    return keep.astype(np.float32)


def _below_brows(pts: NDArray[np.float64]) -> NDArray[np.float32]:
    """1 below the brows' line, 0.5 on and above it: a rim follows the brows at most,
    and the brows are the strongest lines near it."""
    brows = pts[17:27] + np.array([0.0, 2.0])
    outline = np.concatenate(
        [[(0.0, brows[0, 1]), (0.0, 0.0), (CANON_W, 0.0)], [(CANON_W, brows[-1, 1])], brows[::-1]]
    )
    weight = np.ones((CANON_H, CANON_W), np.float32)
    cv2.fillPoly(weight, [np.round(outline).astype(np.int32)], 0.5)
    return weight


def _lens_outlines(
    crop: Frame, pts: NDArray[np.float64]
) -> list[tuple[NDArray[np.float32], NDArray[np.float32]]]:
    """Both lens outlines, traced on dark lines or on bright ones, whichever runs
    stronger below the eyes (on the cheeks, where nothing else does). A frame keeps
    its shade around the lens: metal rims shine where the brows above are dark."""
    # Lids, lashes and brows are the strongest lines near a rim: keep the path off them.
    weight = _eye_exclusion(pts, _LASHES) * _below_brows(pts)
    below = slice(_ANGLES // 8, 3 * _ANGLES // 8)  # 45..135 degrees, image y down
    best, best_score = [], -1.0
    for ops in (_DARK, _BRIGHT):
        response = line_response(crop, ops) * weight
        rims = _rim_paths(response, pts)
        score = sum(float(_sample(response, xs[below], ys[below]).mean()) for xs, ys in rims)
        if score > best_score:
            best, best_score = rims, score
    return best


def _rim_paths(
    response: NDArray[np.float32], pts: NDArray[np.float64]
) -> list[tuple[NDArray[np.float32], NDArray[np.float32]]]:
    """Per eye, the lens outline: around the eye, the path of strongest line response
    that moves at most one radius step from ray to ray."""
    theta = np.arange(_ANGLES) * (2 * np.pi / _ANGLES)
    ax, ay = _LENS[0] * CANON_IOD, _LENS[1] * CANON_IOD
    out = []
    for eye in (shape.EYE_L, shape.EYE_R):
        c = pts[eye].mean(0)
        xs = (c[0] + np.cos(theta)[:, None] * ax * _RHO[None, :]).astype(np.float32)
        ys = (c[1] + np.sin(theta)[:, None] * ay * _RHO[None, :]).astype(np.float32)
        samples = cv2.remap(response, xs, ys, cv2.INTER_LINEAR, borderValue=0.0)
        path = _best_path(np.asarray(samples, np.float64))
        rows = np.arange(_ANGLES)
        out.append((xs[rows, path], ys[rows, path]))
    return out


def _best_path(score: NDArray[np.float64]) -> NDArray[np.int64]:
    """Column per row maximising the summed ``score``, moving at most one column per row."""
    n, m = score.shape
    total = score[0].copy()
    back = np.zeros((n, m), np.int64)
    cols = np.arange(m)
    for i in range(1, n):
        options = np.stack([np.r_[-np.inf, total[:-1]], total, np.r_[total[1:], -np.inf]])
        step = options.argmax(0)
        back[i] = cols + step - 1
        total = options.max(0) + score[i]
    path = np.zeros(n, np.int64)
    path[-1] = int(total.argmax())
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def _bars(
    crop: Frame, pts: NDArray[np.float64]
) -> list[tuple[NDArray[np.float32], NDArray[np.float32]]]:
    """The bridge (between the eyes) and the temples (from beyond the eyes' outer
    corners to the crop's border): in each strip, the left-to-right path of strongest
    horizontal lines that moves at most a pixel up or down per column."""
    lines = np.max([horizontal_lines(c) for c in _channels(crop)], axis=0)
    top, low = int(CANON_EYES_Y - 0.4 * CANON_IOD), int(CANON_EYES_Y + 0.1 * CANON_IOD)
    left = int(pts[36, 0] - 0.25 * CANON_IOD)
    right = int(pts[45, 0] + 0.25 * CANON_IOD)
    out = []
    for x0, x1 in ((int(pts[39, 0]), int(pts[42, 0]) + 1), (0, left), (right, CANON_W)):
        x0, x1 = max(0, x0), min(CANON_W, x1)
        if x1 - x0 >= 3:
            ys = top + _best_path(np.asarray(lines[top:low, x0:x1].T, np.float64))
            out.append((np.arange(x0, x1, dtype=np.float32), ys.astype(np.float32)))
    return out


def mask_in_box(
    mask: NDArray[np.floating], lm: NDArray[np.floating], box: Box
) -> NDArray[np.float32]:
    """A canonical-crop mask of face ``lm`` warped into ``box`` of its frame."""
    m = to_canonical(lm)
    inverse = cv2.invertAffineTransform(m)
    inverse[:, 2] -= (box.left, box.top)
    out = cv2.warpAffine(
        np.asarray(mask, np.float32),
        inverse,
        (box.width, box.height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
    )
    return np.asarray(out, np.float32)
