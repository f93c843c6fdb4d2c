"""Automatic artefact measures of a refaced clip, beside tools.quality's identity scores.

Each compares the output's face with the template's face in the same frame, where dlib
found the face in both (template landmarks for regions, the output's own landmarks for
its mouth):
- detail:      fine detail (mean absolute Laplacian) inside the face hull, output over
               template, median over frames (< 1: softer than the template, a smeared
               or blurred face; > 1: crisper, a pasted look);
- mouth_agree: share of frames where the output's mouth is open exactly when the
               template's is (inner-lip gap over mouth width above ``MOUTH_OPEN``);
- mouth_corr:  correlation of the two mouth openings over the clip (NaN when either
               does not move);
- eye_light:   mean lightness around the eyes, output over template, median;
- eye_detail:  fine detail around the eyes, output over template, median (eyes
               smeared into dark blobs read well below 1);
- bridge:      horizontal-edge energy on the nose bridge between the eyes, output over
               template, median (on a template with glasses: below 1 where the frame's
               bridge was erased);
- gaze_corr:   correlation of where the irises sit across the eyes (the mean of the
               two eyes' server.vision.gaze reads) in the template and the output,
               over the frames where all four eyes read clearly (NaN when the
               template's gaze hardly moves: under ``GAZE_MOVES``); the engine's own
               reader, applied to the output's own landmarks;
- slide:       frame-to-frame change inside the face hull left once the template face's
               own motion (a similarity fitted to its landmarks) is taken out, output
               over template, over the clip. Plain flicker also grows with contrast
               under motion and shrinks when the face lags behind the head; this one
               grows where the swapped face moves or changes unlike the head under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame
from server.vision import gaze, shape
from server.vision.detail import detail_energy
from server.vision.masks import hull_mask

MOUTH_OPEN = 0.12  # inner-lip gap over mouth width above which a mouth counts as open
EYE_MARGIN = 0.15  # eye region: the eye's hull dilated by this share of the IOD
GAZE_MOVES = 0.05  # least spread (std) of the template's iris place for a gaze correlation

Points = NDArray[np.floating]


@dataclass
class Artefacts:
    detail: float
    mouth_agree: float
    mouth_corr: float
    eye_light: float
    eye_detail: float
    bridge: float
    slide: float
    gaze_corr: float = float("nan")


def measure(
    template: Sequence[Frame],
    output: Sequence[Frame],
    template_lm: Sequence[Points | None],
    output_lm: Sequence[Points | None],
) -> Artefacts:
    """The measures over a clip; landmarks are (68, 2) per frame, None where no face."""
    detail, eyes, eye_detail, bridge, t_open, o_open = [], [], [], [], [], []
    t_gaze, o_gaze = [], []
    for t, o, tl, ol in zip(template, output, template_lm, output_lm, strict=True):
        if tl is None:
            continue
        gt, go = _gray(t), _gray(o)
        detail.append(_ratio(_detail(go, tl), _detail(gt, tl)))
        region = _eye_region(gt.shape[:2], tl)
        eyes.append(_ratio(float(go[region].mean()), float(gt[region].mean())))
        eye_detail.append(_ratio(detail_energy(go, region), detail_energy(gt, region)))
        bridge.append(_ratio(_bridge_edges(go, tl), _bridge_edges(gt, tl)))
        if ol is not None:
            t_open.append(shape.mouth_openness(np.asarray(tl, np.float32)))
            o_open.append(shape.mouth_openness(np.asarray(ol, np.float32)))
            looks = gaze_place(gt, tl), gaze_place(go, ol)
            if not np.isnan(looks).any():
                t_gaze.append(looks[0])
                o_gaze.append(looks[1])
    return Artefacts(
        detail=_median(detail),
        mouth_agree=_agreement(t_open, o_open),
        mouth_corr=_correlation(t_open, o_open),
        eye_light=_median(eyes),
        eye_detail=_median(eye_detail),
        bridge=_median(bridge),
        slide=_slide(template, output, template_lm),
        gaze_corr=gaze_correlation(t_gaze, o_gaze),
    )


def gaze_place(gray: NDArray[np.float32], lm: Points) -> float:
    """The mean of the two eyes' iris places in a grey image (NaN where either reads
    unclear)."""
    reads = [gaze.read_iris(gray, np.asarray(lm)[eye]) for eye in (shape.EYE_L, shape.EYE_R)]
    if min(r.contrast for r in reads) < gaze.READABLE:
        return float("nan")
    return float(np.mean([r.across for r in reads]))


def gaze_correlation(t: list[float], o: list[float]) -> float:
    """Pearson r of the two gaze series; NaN when the first hardly moves (under
    :data:`GAZE_MOVES`) or has under three frames."""
    if len(t) < 3 or float(np.std(t)) < GAZE_MOVES:
        return float("nan")
    return _correlation(t, o)


def _slide(
    template: Sequence[Frame], output: Sequence[Frame], template_lm: Sequence[Points | None]
) -> float:
    own = ours = 0.0
    for i in range(1, len(template)):
        before, now = template_lm[i - 1], template_lm[i]
        if before is None or now is None:
            continue
        m, _ = cv2.estimateAffinePartial2D(
            np.asarray(before, np.float32), np.asarray(now, np.float32), method=cv2.LMEDS
        )
        if m is None:
            continue
        inside = hull_mask(template[i].shape[:2], np.asarray(now))
        own += _left_over(template[i - 1], template[i], m, inside)
        ours += _left_over(output[i - 1], output[i], m, inside)
    return _ratio(ours, own)


def _left_over(
    before: Frame, now: Frame, motion: NDArray[np.float64], inside: NDArray[np.bool_]
) -> float:
    """Total absolute change inside ``inside`` from ``before`` moved by ``motion`` to ``now``."""
    h, w = now.shape[:2]
    moved = cv2.warpAffine(before, motion, (w, h), borderMode=cv2.BORDER_REFLECT)
    return float(np.abs(now[inside].astype(np.int16) - moved[inside]).sum())


def _gray(frame: Frame) -> NDArray[np.float32]:
    return np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), np.float32)


def _detail(gray: NDArray[np.float32], lm: Points) -> float:
    return detail_energy(gray, hull_mask(gray.shape[:2], lm))


def _eye_region(size: tuple[int, int], lm: Points) -> NDArray[np.bool_]:
    mask = np.zeros(size, np.uint8)
    r = max(1, int(round(EYE_MARGIN * shape.interocular(np.asarray(lm, np.float32)))))
    for eye in (shape.EYE_L, shape.EYE_R):
        pts = np.round(np.asarray(lm)[eye]).astype(np.int32)
        cv2.fillConvexPoly(mask, cv2.convexHull(pts), 1)
    return np.asarray(cv2.dilate(mask, np.ones((2 * r + 1, 2 * r + 1), np.uint8)), bool)


def _bridge_edges(gray: NDArray[np.float32], lm: Points) -> float:
    """Mean absolute vertical gradient between the inner eye corners, from the brows'
    inner ends down to the eyes' lower lids: where a pair of glasses has its bridge."""
    p = np.asarray(lm, np.float64)
    x0, x1 = int(round(p[39, 0])), int(round(p[42, 0]))
    y0 = int(round(min(p[21, 1], p[22, 1])))
    y1 = int(round(max(p[40, 1], p[47, 1])))
    h, w = gray.shape[:2]
    x0, x1, y0, y1 = max(0, x0), min(w, x1), max(0, y0), min(h, y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return float("nan")
    dy = cv2.Sobel(cv2.GaussianBlur(gray, (0, 0), 1.0), cv2.CV_32F, 0, 1, ksize=3)
    return float(np.abs(dy[y0:y1, x0:x1]).mean())


def _ratio(a: float, b: float) -> float:
    return a / b if np.isfinite(a) and np.isfinite(b) and b > 1e-6 else float("nan")


def _median(values: list[float]) -> float:
    v = np.array([x for x in values if np.isfinite(x)])
    return float(np.median(v)) if len(v) else float("nan")


def _agreement(t_open: list[float], o_open: list[float]) -> float:
    if not t_open:
        return float("nan")
    t = np.array(t_open) > MOUTH_OPEN
    o = np.array(o_open) > MOUTH_OPEN
    return float((t == o).mean())


def _correlation(t_open: list[float], o_open: list[float]) -> float:
    t, o = np.array(t_open), np.array(o_open)
    if len(t) < 3 or t.std() < 1e-3 or o.std() < 1e-3:
        return float("nan")
    return float(np.corrcoef(t, o)[0, 1])
