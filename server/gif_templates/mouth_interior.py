"""The inside of an opened mouth, which a mesh warp cannot invent (it can only stretch
the line where the picture's lips met): a dark gap, upper teeth with the gaps between
them and a tongue, in colours taken from the picture (see :mod:`.paint`; the inside
reddened where the lips are pale).

What makes it read as a mouth rather than a cut-out: the inner lips are two smooth
curves that meet in the corners (dlib's eight inner points joined by straight lines
read as a polygon); the upper lip shades the teeth under it; the teeth's lower edge is
soft, and toward the corners the teeth go back into the dark of the mouth (greyed
there instead, they drew a grey outline round the opening; so did a band of lower
teeth along the lower lip, which is left dark); and a pixel-wide rim of lip colour
covers the lips' inner edge, where the warp stretched the dark line they met on.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.gif_templates.paint import FaceColours, Points, mouth_opening
from server.types import Frame
from server.vision.layers import box_around, composite, mix, polygon

SS = 3  # supersampling of the mouth's shapes (4 took twice as long, for the same look)
CURVE_STEPS = 8  # samples per segment of an inner lip's curve
RIM_PX = 1.0  # px of lip colour painted round the inner lips
RIM_SHADE = 0.85  # the rim's colour: the lips', a little darker (a lip's wet inner edge)
LIP_SHADOW = 0.35  # how much the upper lip darkens the teeth just under it
# Teeth show fully from the middle out to where the dark of the mouth's corners is
# this share of the way in (0 at a corner, 1 in the middle; see _interior's light).
TEETH_TO = 0.5
# The upper teeth, from the middle out to each corner, as shares of that side's half
# of the opening (incisors, canine, premolar; a turned face's far side is narrower),
# and how much darker the gaps between them are (in the middle; a third of it by the
# corners). Without them the teeth read as one white band (a mouthguard).
TOOTH_WIDTHS = (0.3, 0.24, 0.22, 0.2)
GAP_SHADE = 0.18
GAP_PX = 0.7  # the gap line's half width (Gaussian sigma), output px
GAPS_FROM, GAPS_FULL = 2.0, 4.0  # output px of the narrowest tooth: no gaps, whole gaps
INSIDE_RED = (25.0, 32.0)  # bounds of the mouth inside's redness (Lab a of the lips)


def paint_mouth(
    frame: Frame, inner: Points, iod: float, colours: FaceColours, already: float = 0.0
) -> None:
    """Paint the open mouth inside the inner lips (``inner``: landmarks 60-67) in place.
    ``already``: the gap the picture's own mouth has (px); the painting fades in only
    as the mouth opens beyond it, so a face that smiles with its teeth showing keeps
    them."""
    opening = mouth_opening(inner)
    strength = float(np.clip((opening - already - 1.0) / (0.12 * iod), 0.0, 1.0))
    box = box_around(frame, inner, 4)
    if strength <= 0 or box is None:
        return
    x0, y0, x1, y1 = box
    size = ((x1 - x0) * SS, (y1 - y0) * SS)
    local = (inner - (x0, y0)) * SS
    upper, lower = lip_curve(local[[0, 1, 2, 3, 4]]), lip_curve(local[[4, 5, 6, 7, 0]])
    inside = polygon(size, np.vstack([upper, lower[1:-1]]))
    colour = _interior(size, (upper, lower), inside, min(0.38 * opening, 0.1 * iod), colours)
    # A rim of lip colour just outside the inner lips covers the line the lips met on,
    # which the warp stretched along their inner edge (it showed as a grey outline);
    # lip colour beyond it too, so the blur below does not carry the dark gap out.
    radius = max(1, int(round(RIM_PX * SS)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    rim = cv2.GaussianBlur(cv2.dilate(inside, kernel), (0, 0), 0.4 * SS)
    colour = mix(colour, colours.lips * RIM_SHADE, 1.0 - inside)
    blurred = cv2.GaussianBlur(colour, (0, 0), 0.5 * SS)
    composite(frame, box, blurred, np.maximum(inside, rim) * strength)


def lip_curve(points: Points, steps: int = CURVE_STEPS) -> Points:
    """A smooth curve through ``points`` (Catmull-Rom, ends extended straight), from the
    first to the last, ``steps`` samples per segment."""
    p = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    t = np.linspace(0.0, 1.0, steps, endpoint=False)[:, None]
    parts = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        parts.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (3 * p1 - p0 - 3 * p2 + p3) * t**3
            )
        )
    return np.vstack([*parts, points[-1:]])


def _interior(
    size: tuple[int, int],
    curves: tuple[Points, Points],
    mask: NDArray[np.float32],
    teeth_px: float,
    colours: FaceColours,
) -> NDArray[np.float32]:
    """The mouth's colours over the supersampled box: dark gap dimmer toward the
    corners, tongue, upper teeth (soft lower edge, shaded by the lip, going back into
    the dark toward the corners)."""
    upper, lower = curves
    drop = np.array([0.0, teeth_px * SS])
    teeth = polygon(size, np.vstack([upper, upper[::-1] + drop]))
    teeth = cv2.GaussianBlur(teeth, (0, 0), 0.3 * SS) * mask
    middle = lower[len(lower) // 2]
    gap = float(np.linalg.norm(middle - upper[len(upper) // 2]))
    tongue = np.zeros_like(mask)
    axes = (int(0.3 * np.ptp(upper[:, 0])), int(0.28 * gap))
    cv2.ellipse(tongue, (int(middle[0]), int(middle[1] - 0.12 * gap)), axes, 0, 180, 360, 1.0, -1)
    tongue = cv2.GaussianBlur(tongue, (0, 0), 1.5 * SS) * mask
    xs = np.arange(size[0], dtype=np.float32)[None, :, None]
    centre, half = upper[:, 0].mean(), max(float(np.ptp(upper[:, 0])) / 2, 1.0)
    light = np.clip(1.0 - ((xs - centre) / half) ** 2, 0.0, 1.0)  # dimmer toward corners
    ivory = colours.teeth
    dark = _inside_dark(colours.lips)
    colour = np.broadcast_to(dark * (0.7 + 0.3 * light), (size[1], size[0], 3)).astype(np.float32)
    colour = mix(colour, colours.lips * 0.6, tongue * 0.8)
    ramp = np.clip(light[..., 0] / TEETH_TO, 0.0, 1.0)
    shown = teeth * ramp * ramp * (3 - 2 * ramp)
    gaps = _tooth_gaps(xs[..., 0], upper) * (0.3 + 0.7 * light)
    colour = mix(colour, ivory * (0.75 + 0.25 * light) * (1.0 - gaps), shown)
    line = np.zeros_like(mask)
    reach = max(1, int(round(0.5 * teeth_px * SS)))
    cv2.polylines(line, [np.round(upper).astype(np.int32)], False, 1.0, reach, cv2.LINE_AA)
    shade = cv2.GaussianBlur(line, (0, 0), 0.3 * reach + 1)
    return np.asarray(colour * (1.0 - LIP_SHADOW * shade)[..., None], np.float32)


def _tooth_gaps(xs: NDArray[np.float32], upper: Points) -> NDArray[np.float32]:
    """Per column (``xs``, supersampled px), how much a gap between two upper teeth
    darkens it (0..``GAP_SHADE``): the teeth laid out from the upper inner lip's middle
    point, each side's widths scaled to that side's half of the opening. Teeth a few
    pixels wide get none (their gaps would read as a comb's teeth)."""
    middle = float(upper[len(upper) // 2, 0])
    halves = (max(middle - float(upper[0, 0]), 1.0), max(float(upper[-1, 0]) - middle, 1.0))
    half = np.where(xs < middle, halves[0], halves[1])
    narrowest = half / SS * min(TOOTH_WIDTHS)  # per side
    legible = np.clip((narrowest - GAPS_FROM) / (GAPS_FULL - GAPS_FROM), 0.0, 1.0)
    u = np.abs(xs - middle) / half
    edges = np.concatenate([[0.0], np.cumsum(TOOTH_WIDTHS)])
    dist = np.min(np.abs(u[..., None] - edges), axis=-1) * half
    shade = legible * GAP_SHADE * np.exp(-0.5 * (dist / (GAP_PX * SS)) ** 2)
    return np.asarray(shade, np.float32)[..., None]


def _inside_dark(lips: NDArray[np.float64]) -> NDArray[np.float64]:
    """The mouth's dark (BGR) from the lips' colour (BGR): Lab L 0.22 of the lips', their
    redness (Lab a) kept within ``INSIDE_RED`` (0.8 of it) and their yellow (b) at most
    half of it. Scaled in BGR instead, pale or grey lips (a painting's, an old photo's,
    the astronaut's) gave a grey, olive or slate hole."""
    lab = cv2.cvtColor(np.asarray(lips, np.float32).reshape(1, 1, 3) / 255.0, cv2.COLOR_BGR2Lab)
    light, red, yellow = (float(v) for v in lab[0, 0])
    red = float(np.clip(red, *INSIDE_RED))
    yellow = float(np.clip(yellow, 0.0, 0.5 * red))
    pixel = np.array([[[0.22 * light, 0.8 * red, 0.6 * yellow]]], np.float32)
    return np.asarray(cv2.cvtColor(pixel, cv2.COLOR_Lab2BGR)[0, 0] * 255.0, np.float64)
