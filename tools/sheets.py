"""Contact sheets for judging refaced clips by eye, one PNG per selfie x template pair.

Layout (``cell`` px square panels, each under a ``LABEL`` px caption strip):

    | selfie          | template f0  | template f8  | ... | template f44 |
    | pair, measures  | output f0    | output f8    | ... | output f44   |

The first column holds the selfie's face and a text panel (the pair's name and any
measure lines); then, for ``frames`` frames spread over the clip, the template's face
above the output's face at the same place. Where the template's eyes shut (a blink, a
wink), the frame most shut takes the place of the spread frame nearest it: frames
spread evenly miss most blinks, and a blink is where a swap's eyes go wrong. Every
crop is a square ``CROP`` times the face's landmark box, scaled to ``cell`` px, so a
small face in a wide scene is shown as large as a close-up.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame
from server.vision import shape

CELL = 160
LABEL = 18
CROP = 2.0  # crop side over the face's landmark box side
FRAMES = 6
SHUT = 0.6  # eyes this open, or less, of the clip's median read as a blink worth showing
_BG = (40, 40, 40)
_INK = (235, 235, 235)

Points = NDArray[np.floating]
Square = tuple[float, float, float]  # centre x, centre y, side


def contact_sheet(
    selfie: Frame,
    selfie_lm: Points | None,
    template: Sequence[Frame],
    output: Sequence[Frame],
    template_lm: Sequence[Points | None],
    lines: Sequence[str] = (),
    frames: int = FRAMES,
    cell: int = CELL,
) -> Frame:
    """The sheet as a BGR image of ``2 * (cell + LABEL)`` by ``(frames + 1) * cell`` px."""
    picks = frame_picks(template_lm, frames)
    squares = _squares(template_lm, template[0].shape[:2])
    top = [_panel(_crop(selfie, _square(selfie_lm, selfie.shape[:2]), cell), "selfie")]
    bottom = [_text_panel(lines, cell)]
    for i in picks:
        top.append(_panel(_crop(template[i], squares[i], cell), f"template f{i}"))
        bottom.append(_panel(_crop(output[i], squares[i], cell), f"output f{i}"))
    return np.vstack([np.hstack(top), np.hstack(bottom)])


def frame_picks(template_lm: Sequence[Points | None], frames: int = FRAMES) -> NDArray[np.int64]:
    """``frames`` frame indices spread over the clip, the first frame always among them;
    where the template's eyes shut (their aspect ratio ``SHUT`` of the clip's median or
    less), the most shut frame replaces the spread frame nearest it."""
    n = len(template_lm)
    picks = np.linspace(0, n - 1, min(frames, n)).round().astype(np.int64)
    aspect = np.array(
        [
            np.nan if lm is None else shape.eye_openness(np.asarray(lm, np.float32))
            for lm in template_lm
        ]
    )
    if len(picks) < 2 or np.isnan(aspect).all():
        return picks
    shut = int(np.nanargmin(aspect))
    if aspect[shut] <= SHUT * float(np.nanmedian(aspect)) and shut not in picks:
        picks[1 + int(np.argmin(np.abs(picks[1:] - shut)))] = shut
    return np.sort(picks)


def _square(lm: Points | None, size: tuple[int, int]) -> Square:
    """The crop square around a face (the whole image when there is none)."""
    if lm is None:
        h, w = size
        return (w / 2, h / 2, float(max(w, h)))
    p = np.asarray(lm, np.float64)
    lo, hi = p.min(0), p.max(0)
    c = (lo + hi) / 2
    return (float(c[0]), float(c[1]), float(max(hi - lo)) * CROP)


def _squares(lms: Sequence[Points | None], size: tuple[int, int]) -> list[Square]:
    """One square per frame; a frame without a face takes the nearest frame's."""
    found = [i for i, lm in enumerate(lms) if lm is not None]
    out = []
    for i in range(len(lms)):
        j = min(found, key=lambda k: abs(k - i)) if found else None
        out.append(_square(None if j is None else lms[j], size))
    return out


def _crop(image: Frame, sq: Square, cell: int) -> Frame:
    """The square resampled to ``cell`` px; outside the image is grey."""
    cx, cy, side = sq
    k = cell / max(side, 1.0)
    m = np.array([[k, 0.0, cell / 2 - cx * k], [0.0, k, cell / 2 - cy * k]])
    interp = cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC
    out = cv2.warpAffine(
        image, m, (cell, cell), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=_BG
    )
    return np.asarray(out, np.uint8)


def _panel(image: Frame, label: str) -> Frame:
    strip = np.full((LABEL, image.shape[1], 3), _BG, np.uint8)
    cv2.putText(strip, label, (3, LABEL - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, _INK, 1, cv2.LINE_AA)
    return np.vstack([strip, image])


def _text_panel(lines: Sequence[str], cell: int) -> Frame:
    panel = np.full((cell + LABEL, cell, 3), _BG, np.uint8)
    for n, line in enumerate(lines[: (cell + LABEL) // 14]):
        y = 14 + 14 * n
        cv2.putText(panel, line, (3, y), cv2.FONT_HERSHEY_SIMPLEX, 0.36, _INK, 1, cv2.LINE_AA)
    return panel
