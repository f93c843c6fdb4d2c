"""Normalised-convolution fill: a hole takes the colour of the kept pixels around it,
never that of the pixels the weight leaves out, however close they lie."""

from __future__ import annotations

import cv2
import numpy as np

from server.vision.fill import blurred, smooth_fill


def test_a_hole_takes_the_kept_colour_not_its_dark_border() -> None:
    image = np.full((120, 200, 3), (200, 150, 120), np.float32)  # skin
    image[40:80, 30:70] = 10  # a dark rim around ...
    image[45:75, 35:65] = 255  # ... a bright hole
    weight = np.ones(image.shape[:2], np.float32)
    weight[40:80, 30:70] = 0  # rim and hole both left out
    fill = smooth_fill(image, weight, (30.0, 6.0))
    hole = fill[45:75, 35:65].reshape(-1, 3)
    off = np.abs(hole - (200, 150, 120)).max()
    print("filled hole colour", hole.mean(0).round(1), "largest difference", off)
    assert off < 2  # neither the rim's dark nor the hole's own bright


def test_the_downscaled_blur_matches_a_full_size_one() -> None:
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (90, 130)).astype(np.float32)
    full = cv2.GaussianBlur(image, (0, 0), 20.0)
    inner = (slice(30, 60), slice(40, 90))  # away from the borders' different handling
    assert np.abs(blurred(image, 20.0)[inner] - full[inner]).max() < 2.0
