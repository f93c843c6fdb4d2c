"""The lips' colour toned down only where they stand out far more than the template's;
the side light compared across a mirror that follows the landmarks."""

from __future__ import annotations

import numpy as np

from server.vision import color, face_parts, pose, relight


def _mouth() -> tuple[np.ndarray, np.ndarray]:
    mouth = np.zeros((40, 40), np.float32)
    mouth[10:30, 10:30] = 0.3  # the skin around the lips
    mouth[15:25, 15:25] = 1.0  # the lips
    return mouth, np.ones((40, 40), np.float32)


def _lab(lips_a: float) -> np.ndarray:
    lab = np.zeros((40, 40, 3), np.float32)
    lab[:, :, 0], lab[:, :, 1], lab[:, :, 2] = 60.0, 12.0, 14.0
    lab[15:25, 15:25, 1] = lips_a
    return lab


def _bgr(lab: np.ndarray) -> np.ndarray:
    return np.asarray(np.clip(color.lab_to_bgr(lab), 0, 255), np.float32)


def test_red_lips_on_a_pale_lipped_template_are_toned_down() -> None:
    mouth, alpha = _mouth()
    out = face_parts.tamed_lips(_lab(60.0), _bgr(_lab(18.0)), mouth, alpha)
    lips_a = float(out[20, 20, 1])
    assert 14.0 < lips_a < 30.0  # skin 12, template's lips 6 above their skin
    assert out[2, 2, 1] == 12.0  # outside the mouth nothing changes


def test_lips_like_the_template_are_left_alone() -> None:
    mouth, alpha = _mouth()
    lab = _lab(30.0)
    out = face_parts.tamed_lips(lab, _bgr(_lab(28.0)), mouth, alpha)
    assert np.array_equal(out, lab)


def test_the_mirror_carries_each_point_onto_its_partner() -> None:
    mean = pose.mean_face()[:, :2]
    lm = (mean - mean.mean(0)) / np.ptp(mean[:, 0]) * 120 + np.array([100.0, 110.0])
    lm[:, 0] = 100.0 + (lm[:, 0] - 100.0) * np.where(lm[:, 0] < 100.0, 0.6, 1.0)  # turned
    image = np.zeros((220, 200), np.float32)
    image[:, :100] = 1.0  # the image-left (far, narrow) half lit
    other = relight.mirrored(image, lm)
    y, far, near = int(lm[30, 1]), int((lm[2, 0] + lm[30, 0]) / 2), int(lm[14, 0]) - 5
    assert other[y, far] == 0.0 and other[y, near] == 1.0  # the halves swap, unequal widths
