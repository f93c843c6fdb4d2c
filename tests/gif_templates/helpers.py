"""Synthetic faces and clips for the template tests (no devkit media)."""

from __future__ import annotations

import cv2
import numpy as np

from server.gif_templates.linking import Detection
from server.types import Animation, Frame

# A frontal 68-point face (iBUG order), centred, in hundredths of the face size.
_SHAPE = [
    (-49, -25), (-48, -12), (-47, 0), (-46, 13), (-42, 25), (-36, 35),
    (-26, 44), (-16, 53), (-4, 55), (9, 54), (21, 47), (31, 39),
    (39, 29), (45, 17), (48, 4), (50, -8), (52, -21), (-41, -36),
    (-35, -43), (-26, -44), (-17, -42), (-9, -39), (13, -37), (22, -40),
    (30, -40), (39, -39), (45, -31), (2, -28), (1, -18), (1, -9),
    (1, 0), (-11, 4), (-5, 6), (0, 7), (5, 6), (11, 5),
    (-32, -29), (-26, -32), (-19, -32), (-13, -25), (-20, -25), (-27, -25),
    (14, -23), (21, -30), (28, -30), (34, -24), (28, -22), (22, -22),
    (-25, 13), (-16, 13), (-7, 13), (0, 15), (6, 14), (15, 14),
    (24, 15), (15, 26), (5, 30), (-2, 31), (-9, 30), (-17, 25),
    (-22, 15), (-7, 17), (-1, 18), (6, 17), (21, 16), (5, 25),
    (-1, 26), (-8, 25),
]  # fmt: skip
MEAN_SHAPE = np.array(_SHAPE, np.float64) / 100.0


def face_points(cx: float, cy: float, size: float, angle: float = 0.0) -> np.ndarray:
    """68 landmarks of a face of ``size`` px centred at (cx, cy), rotated by ``angle`` rad."""
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return (MEAN_SHAPE @ rot.T * size + (cx, cy)).astype(np.float32)


def detection(cx: float, cy: float, size: float, score: float = 1.5) -> Detection:
    half = size / 2
    return Detection((cx - half, cy - half, cx + half, cy + half), face_points(cx, cy, size), score)


def astronaut(face_bgr: Frame, n: int = 10, side: int = 220, hide: int | None = None) -> Animation:
    """A small clip of the public-domain astronaut photo: slow pan and zoom around the
    face; frame ``hide`` has the face covered (a missed detection to be gap-filled)."""
    frames = []
    for i in range(n):
        t = i / max(1, n - 1)
        half = 170 - 20 * t
        cx, cy = 225 + 12 * t, 180 - 8 * t
        x0, y0 = int(cx - half), int(cy - half)
        crop = face_bgr[y0 : y0 + int(2 * half), x0 : x0 + int(2 * half)]
        frame = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
        if i == hide:
            k = side / (2 * half)
            fx, fy = int((220 - x0) * k), int((120 - y0) * k)
            cv2.rectangle(frame, (fx - 25, fy - 30), (fx + 25, fy + 30), (128, 128, 128), -1)
        frames.append(np.ascontiguousarray(frame, np.uint8))
    return Animation(frames, [80] * n, 0)


def plain_clip(n: int = 4, side: int = 64) -> Animation:
    """No face at all: a moving gradient."""
    yy, xx = np.mgrid[0:side, 0:side]
    frames = [
        np.ascontiguousarray(
            np.stack([(xx + 8 * i) % 256, yy * 3 % 256, xx * 0 + 90], -1).astype(np.uint8)
        )
        for i in range(n)
    ]
    return Animation(frames, [100] * n, 0)
