"""The painted inside of an opened mouth (:mod:`server.gif_templates.mouth_interior`):
no grey line along its edges. A grey band of lower teeth lined the lower lip, and the
upper teeth, greyed toward the corners, outlined them: every opened mouth read as
drawn round with a grey pencil (d0's grins, d12's talk)."""

from __future__ import annotations

import cv2
import numpy as np

from server.gif_templates.mouth_interior import lip_curve, paint_mouth
from server.gif_templates.paint import FaceColours

IOD = 60.0
# dlib's inner lips 60-67: left corner, upper left to right, right corner, lower right to left
INNER = np.array(
    [[40, 60], [60, 52], [80, 50], [100, 52], [120, 60], [100, 76], [80, 80], [60, 76]],
    np.float64,
)
COLOURS = FaceColours(
    lips=np.array([80.0, 80.0, 190.0]),
    skin=np.array([150.0, 170.0, 210.0]),
    teeth=np.array([215.0, 225.0, 235.0]),
)


def painted_colour(colours: FaceColours = COLOURS) -> np.ndarray:
    frame = np.zeros((130, 160, 3), np.uint8)
    frame[:] = colours.skin.astype(np.uint8)
    paint_mouth(frame, INNER.copy(), IOD, colours)
    return frame


def painted() -> np.ndarray:
    return cv2.cvtColor(painted_colour(), cv2.COLOR_BGR2GRAY).astype(np.float64)


def along(curve: np.ndarray, inward: float, xs: tuple[float, float]) -> np.ndarray:
    """Points ``inward`` px toward the mouth's middle line from ``curve``, within ``xs``."""
    pts = curve[(curve[:, 0] >= xs[0]) & (curve[:, 0] <= xs[1])]
    middle = INNER[[0, 4], 1].mean()
    return pts + np.stack([np.zeros(len(pts)), np.sign(middle - pts[:, 1]) * inward], 1)


def grey_at(image: np.ndarray, pts: np.ndarray) -> float:
    return float(np.mean([image[int(round(y)), int(round(x))] for x, y in pts]))


def test_no_grey_band_lines_the_lower_lip() -> None:
    """Measured 2 px inside the lower lip's middle: grey 83 with the lower teeth's band,
    33 now (the mouth's dark)."""
    grey = painted()
    lower = lip_curve(INNER[[4, 5, 6, 7, 0]])
    inside = grey_at(grey, along(lower, 2.0, (65.0, 95.0)))
    print(f"inside the lower lip: {inside:.0f}")
    assert inside < 50.0


def test_the_teeth_go_dark_toward_the_corners() -> None:
    """Within 4 px of each corner, between the lips, the mouth is dark (grey 90 and 86
    there when the teeth greyed toward the corners, 52 and 47 now); the teeth in the
    middle stay light (180 and up)."""
    grey = painted()
    upper = lip_curve(INNER[[0, 1, 2, 3, 4]])
    lower = lip_curve(INNER[[4, 5, 6, 7, 0]])[::-1]
    corners = []
    for xs in ((42.0, 44.0), (116.0, 118.0)):
        pts = []
        for x in xs:
            top = np.interp(x, upper[:, 0], upper[:, 1])
            bottom = np.interp(x, lower[:, 0], lower[:, 1])
            pts += [(x, top + t * (bottom - top)) for t in (0.2, 0.35, 0.5, 0.65)]
        corners.append(grey_at(grey, np.array(pts)))
    middle = grey_at(grey, along(upper, 2.5, (70.0, 90.0)))
    print(f"teeth: middle {middle:.0f}, by the corners {corners}")
    assert middle > 150.0
    assert max(corners) < 70.0


def test_the_upper_teeth_show_gaps_between_them() -> None:
    """Along the teeth, the gaps beside the central incisors (0.3 of each half of the
    opening from the middle: x 68 and 92) are darker than the incisors' middles (x 74
    and 86): by 36 and 37 grey levels; by 11 and 12 on a uniform band (which dims
    toward the corners)."""
    grey = painted()
    upper = lip_curve(INNER[[0, 1, 2, 3, 4]])

    def at(x: float) -> float:
        return grey_at(grey, np.array([[x, np.interp(x, upper[:, 0], upper[:, 1]) + 2.5]]))

    below = [at(tooth) - at(gap) for gap, tooth in ((68.0, 74.0), (92.0, 86.0))]
    print(f"gaps below the incisors: {below}")
    assert min(below) > 20.0


def test_the_inside_of_a_pale_lipped_mouth_is_red() -> None:
    """Grey-pink lips (a painting's, an old photo's) gave a grey hole when the inside was
    the lips' colour scaled in BGR: its dark (between the teeth and the tongue) read Lab
    a 1, now 20 (a mouth's maroon)."""
    pale = FaceColours(
        lips=np.array([150.0, 152.0, 160.0]),
        skin=np.array([150.0, 170.0, 200.0]),
        teeth=np.array([215.0, 225.0, 235.0]),
    )
    lab = cv2.cvtColor(painted_colour(pale), cv2.COLOR_BGR2Lab).astype(np.float64)
    dark = lab[58:65, 70:91].reshape(-1, 3)  # between the teeth and the tongue
    print(f"inside: L {dark[:, 0].mean():.0f}, a {dark[:, 1].mean() - 128:.1f}")
    assert dark[:, 0].mean() < 60  # the dark of the mouth (8-bit L)
    assert dark[:, 1].mean() - 128 > 10
