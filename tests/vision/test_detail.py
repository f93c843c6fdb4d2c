"""Detail energy and the blur that matches it (server.vision.detail)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from server.vision.detail import SIGMAS, detail_energy, matching_blur


@pytest.fixture(scope="module")
def sharp() -> np.ndarray:
    """Crisp texture: the grey astronaut photo (scikit-image, public domain)."""
    from skimage import data

    grey = cv2.cvtColor(data.astronaut()[:200, 100:300], cv2.COLOR_RGB2GRAY)
    return grey.astype(np.float32)


@pytest.fixture(scope="module")
def mask() -> np.ndarray:
    m = np.zeros((200, 200), bool)
    m[30:170, 30:170] = True
    return m


def test_detail_energy_falls_with_blur_and_is_zero_on_an_empty_mask(
    sharp: np.ndarray, mask: np.ndarray
) -> None:
    energies = [detail_energy(cv2.GaussianBlur(sharp, (0, 0), s), mask) for s in (0.5, 1.5, 3.0)]
    assert energies[0] > energies[1] > energies[2] > 0
    assert detail_energy(sharp, np.zeros_like(mask)) == 0.0


def test_already_soft_image_needs_no_blur(sharp: np.ndarray, mask: np.ndarray) -> None:
    soft = cv2.GaussianBlur(sharp, (0, 0), 3.0)
    assert matching_blur(soft, mask, detail_energy(sharp, mask)) == 0.0
    flat = np.full_like(sharp, 128.0)
    assert matching_blur(flat, mask, 1.0) == 0.0


@pytest.mark.parametrize("sigma", [0.7, 1.4, 2.4])
def test_sharp_image_gets_the_blur_that_matches_the_target(
    sharp: np.ndarray, mask: np.ndarray, sigma: float
) -> None:
    # the target: this very image blurred by ``sigma`` (a hair softer, so equality holds)
    target = detail_energy(cv2.GaussianBlur(sharp, (0, 0), sigma), mask) * 0.999
    chosen = matching_blur(sharp, mask, target)
    assert chosen == sigma
    assert detail_energy(cv2.GaussianBlur(sharp, (0, 0), chosen), mask) >= target
    following = SIGMAS[SIGMAS.index(sigma) + 1]
    assert detail_energy(cv2.GaussianBlur(sharp, (0, 0), following), mask) < target


def test_a_very_soft_target_gets_the_strongest_blur(sharp: np.ndarray, mask: np.ndarray) -> None:
    assert matching_blur(sharp, mask, 1e-6) == SIGMAS[-1]
