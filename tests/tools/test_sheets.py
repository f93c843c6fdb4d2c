"""tools.sheets: the contact sheet's panel layout, and a small face shown enlarged."""

from __future__ import annotations

import numpy as np

from server.vision import pose
from tools.sheets import CELL, CROP, LABEL, contact_sheet, frame_picks


def _face(cx: float, cy: float, width: float) -> np.ndarray:
    """The mean face's 68 points, ``width`` px across, centred at (cx, cy)."""
    p = pose.mean_face()[:, :2]
    p = (p - p.mean(0)) / np.ptp(p[:, 0]) * width
    return (p + np.array([cx, cy])).astype(np.float32)


def _cell(sheet: np.ndarray, row: int, col: int) -> np.ndarray:
    top = row * (CELL + LABEL) + LABEL
    return sheet[top : top + CELL, col * CELL : (col + 1) * CELL]


def test_panels_show_selfie_then_template_above_output_per_frame() -> None:
    n = 12
    template = [np.full((120, 200, 3), 10 * i, np.uint8) for i in range(n)]
    output = [np.full((120, 200, 3), 200 - 10 * i, np.uint8) for i in range(n)]
    selfie = np.full((300, 300, 3), 77, np.uint8)
    lms = [_face(100, 60, 30) for _ in range(n)]
    lms[3] = None  # a frame without a face takes its neighbour's crop
    sheet = contact_sheet(selfie, _face(150, 150, 100), template, output, lms, ["a x b"])
    assert sheet.shape == (2 * (CELL + LABEL), 7 * CELL, 3)
    assert (_cell(sheet, 0, 0)[CELL // 2, CELL // 2] == 77).all()
    picks = np.linspace(0, n - 1, 6).round().astype(int)
    for col, i in enumerate(picks, start=1):
        assert (_cell(sheet, 0, col)[CELL // 2, CELL // 2] == 10 * i).all()
        assert (_cell(sheet, 1, col)[CELL // 2, CELL // 2] == 200 - 10 * i).all()
    # the text panel under the selfie has some ink on it
    assert sheet[CELL + LABEL :, :CELL].max() > 200


def test_a_small_face_is_enlarged_to_the_panel() -> None:
    frame = np.zeros((200, 360, 3), np.uint8)
    lm = _face(100, 80, 30)
    lo, hi = lm.min(0), lm.max(0)
    side = float(max(hi - lo)) * CROP
    cx, cy = (lo + hi) / 2
    frame[int(cy) - 5 : int(cy) + 5, int(cx) - 5 : int(cx) + 5] = 255  # a 10 px square
    sheet = contact_sheet(frame, lm, [frame], [frame], [lm])
    lit = (_cell(sheet, 0, 1)[:, :, 0] > 128).sum(1).max()
    assert abs(lit - 10 * CELL / side) <= 3  # scaled by CELL / crop side (about 2.7x)


def _shut(lm: np.ndarray) -> np.ndarray:
    """``lm`` with both eyes' lids brought together."""
    out = lm.copy()
    for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
        mid = (out[upper] + out[lower]) / 2
        out[upper], out[lower] = mid, mid
    return out


def test_a_blink_is_shown_in_place_of_the_spread_frame_nearest_it() -> None:
    lms: list[np.ndarray | None] = [_face(100, 60, 60) for _ in range(45)]
    spread = [0, 9, 18, 26, 35, 44]
    assert frame_picks(lms).tolist() == spread  # no blink: frames spread over the clip
    lms[40] = _shut(_face(100, 60, 60))
    lms[41] = None
    assert frame_picks(lms).tolist() == [0, 9, 18, 26, 35, 40]
    lms[40] = _face(100, 60, 60)
    lms[2] = _shut(_face(100, 60, 60))  # next to frame 0: frame 0 stays, frame 9 gives way
    assert frame_picks(lms).tolist() == [0, 2, 18, 26, 35, 44]
