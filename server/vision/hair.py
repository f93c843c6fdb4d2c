"""Hair crossing a face: strands, bangs and locks that lie over the forehead, the
temples or a turned face's far cheek, found in the canonical crop of
:mod:`server.vision.glasses` so the mask can be stored small and warped into any frame.

A pixel is taken for hair when its colour is far from the face's own skin, measured
on the cheeks (Lab), or when it is much darker (shading on skin keeps its colour and
seldom halves its lightness), where hair may lie: in the face's upper
half (above the nose tip, so beards and moustaches stay the swapped face's) within
reach of the swap around the jaw line, and away from the brows, eyes and nose, which
are the face's own dark or coloured parts. Hair reaches a face from its outline, so
only regions touching the reach's border are kept: a mole or a shadow inside the face
is never hair. Background beside the face is marked too, harmlessly: it is in front
of nothing the swap paints.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame
from server.vision import color, masks, shape

_FAR = 16.0  # squared colour distance (a, b) from the skin beyond which a pixel is not skin
_COLOUR_FLOOR = 4.0  # variance floor of the skin's colour (flat painted skin has little)
_DARK = 0.5  # a pixel under this share of the skin's lightness is not skin
_REACH = 0.15  # reach of the swap beyond the jaw line, share of the inter-ocular distance
_FEATURES = 0.12  # margin kept around brows and eyes, share of the inter-ocular distance
_MIN_AREA = 6  # px of the canonical crop: smaller specks are noise


def hair_mask(
    crop: Frame, pts: NDArray[np.float64], down_to: int = 33, dark: float = _DARK
) -> NDArray[np.float32]:
    """0/1 mask of the hair over the face in a canonical crop with landmarks ``pts``,
    looked for down to the row of landmark ``down_to`` (by default the nose tip);
    a pixel under ``dark`` times the skin's lightness is not skin."""
    h, w = crop.shape[:2]
    lab = color.to_lab(crop)
    not_skin = _not_skin(lab, pts, dark)
    if not_skin is None:
        return np.zeros((h, w), np.float32)
    iod = shape.interocular(pts.astype(np.float32))
    reach = _reach(pts, (h, w), iod)
    border = reach - cv2.erode(reach, np.ones((5, 5), np.uint8))  # the outline's side
    reach[int(pts[down_to, 1]) :] = 0
    wanted = (not_skin & (reach > 0) & ~_features(pts, (h, w), iod)).astype(np.uint8)
    candidate = np.asarray(cv2.morphologyEx(wanted, cv2.MORPH_OPEN, np.ones((2, 2))), np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(candidate)
    touching = np.unique(labels[(border > 0) & (candidate > 0)])
    keep = [k for k in touching if k > 0 and stats[k, cv2.CC_STAT_AREA] >= _MIN_AREA]
    return np.isin(labels, keep).astype(np.float32)


def _not_skin(
    lab: NDArray[np.float32], pts: NDArray[np.float64], dark: float
) -> NDArray[np.bool_] | None:
    """Pixels whose colour is not the cheeks' skin: far from it in colour (robust
    standard deviations of a and b), or darker than half its lightness. A shadow on
    the skin keeps its colour and rarely loses half its light; dark hair does."""
    h, w = lab.shape[:2]
    rows = np.arange(h)[:, None]
    cheeks = masks.skin_mask((h, w), pts.astype(np.float32))
    cheeks &= (rows > pts[36:48, 1].max()) & (rows < pts[51, 1])
    sample = lab[cheeks]
    if len(sample) < 20:
        return None
    d2, centre = color.skin_distance(lab, sample, _COLOUR_FLOOR)
    return np.asarray((d2 > _FAR) | (lab[:, :, 0] < dark * centre[0]), bool)


def _reach(pts: NDArray[np.float64], size: tuple[int, int], iod: float) -> NDArray[np.uint8]:
    """Where hair can cover what the swap paints: the jaw line closed upwards to the
    crop's top edge, grown by the swap's reach."""
    region = np.zeros(size, np.uint8)
    outline = np.concatenate([pts[0:17], [[pts[16, 0], 0.0], [pts[0, 0], 0.0]]])
    cv2.fillPoly(region, [np.round(outline).astype(np.int32)], 1)
    return masks.grown(region, max(1, int(round(_REACH * iod)))).astype(np.uint8)


def _features(pts: NDArray[np.float64], size: tuple[int, int], iod: float) -> NDArray[np.bool_]:
    """The brows, the eyes, the sockets between them (painted or lit, often as dark
    as hair) and the nose, with a margin: never taken for hair."""
    out = np.zeros(size, np.uint8)
    width = max(2, int(round(_FEATURES * iod)))
    sockets = (np.r_[17:22, 39, 38, 37, 36], np.r_[22:27, 45, 44, 43, 42])
    for eye, socket in zip((shape.EYE_L, shape.EYE_R), sockets, strict=True):
        for poly in (np.round(pts[eye]).astype(np.int32), np.round(pts[socket]).astype(np.int32)):
            cv2.fillPoly(out, [poly], 1)
            cv2.polylines(out, [poly], True, 1, width)
    brows = [np.round(pts[17:22]).astype(np.int32), np.round(pts[22:27]).astype(np.int32)]
    cv2.polylines(out, brows, False, 1, width)
    cv2.fillConvexPoly(out, cv2.convexHull(np.round(pts[27:36]).astype(np.int32)), 1)
    return out.astype(bool)
