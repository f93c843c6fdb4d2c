"""tools.artefacts on synthetic clips: a blurred output reads as softer than its
template, darkened eyes as darker, an output that keeps its mouth open while the
template's stays closed as disagreeing, a face that stays put while the head moves as
sliding, and an unchanged output as 1.0 everywhere."""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from server.vision import pose, shape
from tools.artefacts import MOUTH_OPEN, measure


def _face(width: float = 120.0) -> np.ndarray:
    p = pose.mean_face()[:, :2]
    p = (p - p.mean(0)) / np.ptp(p[:, 0]) * width
    return (p + np.array([100.0, 100.0])).astype(np.float32)


def _opened(lm: np.ndarray, amount: float) -> np.ndarray:
    out = lm.copy()
    drop = amount * float(np.linalg.norm(lm[54] - lm[48]))
    out[[65, 66, 67, 55, 56, 57, 58, 59], 1] += drop
    return out


def _clip(n: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.integers(60, 200, (200, 200, 3)).astype(np.uint8)
    return [np.roll(base, i, axis=1) for i in range(n)]


def test_an_unchanged_clip_scores_one() -> None:
    frames, lm = _clip(), _face()
    assert shape.mouth_openness(lm) < MOUTH_OPEN
    a = measure(frames, frames, [lm] * 8, [lm] * 8)
    assert a.detail == a.eye_light == a.bridge == a.slide == 1.0
    assert a.mouth_agree == 1.0


def test_a_blurred_output_is_softer() -> None:
    frames, lm = _clip(), _face()
    blurred = [np.asarray(cv2.GaussianBlur(f, (0, 0), 2.0), np.uint8) for f in frames]
    assert measure(frames, blurred, [lm] * 8, [lm] * 8).detail < 0.5


def test_dark_eyes_read_dark() -> None:
    frames, lm = _clip(), _face()
    dark = []
    for f in frames:
        g = f.copy()
        for eye in (shape.EYE_L, shape.EYE_R):  # a blob a little wider than the eye
            c = np.round(lm[eye].mean(0)).astype(int)
            r = int(0.35 * shape.interocular(lm))
            cv2.circle(g, (int(c[0]), int(c[1])), r, (10, 10, 10), -1)
        dark.append(g)
    assert measure(frames, dark, [lm] * 8, [lm] * 8).eye_light < 0.8


def test_an_open_mouth_over_a_closed_one_disagrees() -> None:
    frames, lm = _clip(), _face()
    talking = [_opened(lm, 0.4 * (i % 2)) for i in range(8)]  # opens every other frame
    a = measure(frames, frames, talking, [_opened(lm, 0.4)] * 8)
    assert a.mouth_agree == 0.5
    follows = measure(frames, frames, talking, talking)
    assert follows.mouth_agree == 1.0 and follows.mouth_corr > 0.99
    missed = [lm if i % 2 == 0 else None for i in range(8)]  # a lost face is not counted
    assert measure(frames, frames, talking, missed).mouth_agree == 1.0


def _texture(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 1.0, (200, 200, 3)).astype(np.float32)
    soft = cv2.GaussianBlur(noise, (0, 0), 3.0)
    return np.clip(128 + 60 * soft / soft.std(), 0, 255).astype(np.uint8)


def _shimmer(frame: np.ndarray, seed: int) -> np.ndarray:
    """A frame's own small change (sensor noise, light): the same for any face."""
    rng = np.random.default_rng(seed)
    return np.clip(frame + rng.normal(0.0, 3.0, frame.shape), 0, 255).astype(np.uint8)


def test_a_face_that_stays_put_while_the_head_moves_slides() -> None:
    lm, step = _face(), 3  # the head moves 3 px to the right per frame
    head, face = _texture(1), _texture(2)
    template = [_shimmer(np.roll(head, step * i, axis=1), i) for i in range(8)]
    marks = [lm + np.array([step * i, 0.0], np.float32) for i in range(8)]
    follows = [_shimmer(np.roll(face, step * i, axis=1), 10 + i) for i in range(8)]
    stays = [_shimmer(face, 10 + i) for i in range(8)]
    moving = measure(template, follows, marks, marks).slide
    lagging = measure(template, stays, marks, marks).slide
    print(f"slide: moving with the head {moving:.2f}, staying put {lagging:.2f}")
    assert 0.8 < moving < 1.25
    assert lagging > 2.0
    # Plain frame-to-frame change reads the still face as steadier than the template.
    assert _change(stays) < _change(template)


def _change(clip: list[np.ndarray]) -> float:
    return sum(float(np.abs(b.astype(int) - a).mean()) for a, b in itertools.pairwise(clip))


def _looking(lm: np.ndarray, across: float) -> np.ndarray:
    """Skin with two drawn eyes whose irises sit ``across`` each eye's width."""
    frame = np.full((200, 200, 3), (120, 150, 200), np.uint8)
    for eye in (shape.EYE_L, shape.EYE_R):
        pts = lm[eye].astype(np.float64)
        cv2.fillPoly(frame, [np.round(pts).astype(np.int32)], (235, 235, 240))
        inside = np.zeros(frame.shape[:2], np.uint8)
        cv2.fillPoly(inside, [np.round(pts).astype(np.int32)], 1)
        iris = frame.copy()
        centre = pts[0] + across * (pts[3] - pts[0])
        radius = 0.21 * float(np.linalg.norm(pts[3] - pts[0]))
        cv2.circle(iris, tuple(int(round(c)) for c in centre), int(round(radius)), (40, 60, 90), -1)
        frame[inside > 0] = iris[inside > 0]
    return frame


def test_gaze_agreement_follows_the_irises() -> None:
    """An output whose irises go where the template's go correlates near 1, one that
    looks the other way near -1; a template whose gaze stays put says nothing (NaN)."""
    lm = _face()
    places = [0.3, 0.5, 0.7, 0.5, 0.3, 0.7, 0.5, 0.3]
    template = [_looking(lm, u) for u in places]
    opposite = [_looking(lm, 1.0 - u) for u in places]
    assert measure(template, template, [lm] * 8, [lm] * 8).gaze_corr > 0.95
    assert measure(template, opposite, [lm] * 8, [lm] * 8).gaze_corr < -0.9
    still = [_looking(lm, 0.5)] * 8
    assert np.isnan(measure(still, template, [lm] * 8, [lm] * 8).gaze_corr)
