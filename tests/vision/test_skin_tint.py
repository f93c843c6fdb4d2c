"""The skin's broad tint (:func:`shading.tint_difference`): a selfie's rouge or flushed
cheek is taken back to the template skin's even tint, within a bound, and its features
do not count as tint."""

from __future__ import annotations

import numpy as np

from server.vision import shading


def skin_patch(a: float = 12.0, b: float = 15.0, size: int = 120) -> np.ndarray:
    """An even skin-coloured Lab patch with a little noise."""
    rng = np.random.default_rng(1)
    lab = np.empty((size, size, 3), np.float32)
    lab[:] = (65.0, a, b)
    lab += rng.normal(0.0, 0.8, lab.shape).astype(np.float32)
    return lab


def disc(size: int, centre: tuple[int, int], radius: float) -> np.ndarray:
    """A soft disc, 1 at its centre."""
    ys, xs = np.mgrid[0:size, 0:size]
    d2 = (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2
    return np.exp(-d2 / (2 * radius**2)).astype(np.float32)


def test_a_rouge_disc_is_taken_back_to_the_template_tint() -> None:
    template = skin_patch()
    selfie = skin_patch()
    rouge = disc(120, (50, 60), 12.0)
    selfie[:, :, 1] += 6.0 * rouge  # a cheek 6 units redder at its centre
    weight = np.ones((120, 120), np.float32)
    diff = shading.tint_difference(template, selfie, weight, 8.0, weight)
    fixed = selfie[:, :, 1] + diff[:, :, 0]
    centre = rouge > 0.8
    before = float(selfie[centre, 1].mean() - template[centre, 1].mean())
    after = float(fixed[centre].mean() - template[centre, 1].mean())
    assert before > 5.0
    assert abs(after) < 0.3 * before
    assert float(np.abs(diff[:, :, 1]).max()) < 0.5  # b was the same: left alone


def test_the_tint_moves_at_most_its_bound_and_only_inside_the_region() -> None:
    template = skin_patch(a=30.0)
    selfie = skin_patch(a=5.0)
    weight = np.ones((120, 120), np.float32)
    region = np.zeros((120, 120), np.float32)
    region[20:100, 20:100] = 1.0
    diff = shading.tint_difference(template, selfie, weight, 8.0, region)
    assert np.allclose(diff[30:90, 30:90, 0], shading.MAX_TINT)
    assert not diff[region == 0].any()


def test_dark_features_do_not_count_as_the_skins_tint() -> None:
    """A dark, coloured spot the landmarks miss (a mole, a lash line, make-up) is
    weighted down as the lightness estimate weights it: it does not tint the skin
    round it."""
    template = skin_patch()
    selfie = skin_patch()
    spot = disc(120, (60, 60), 4.0) > 0.5
    selfie[spot] = (25.0, 30.0, -10.0)  # dark, red-blue
    weight = np.ones((120, 120), np.float32)
    diff = shading.tint_difference(template, selfie, weight, 8.0, weight)
    near = (disc(120, (60, 60), 10.0) > 0.3) & ~(disc(120, (60, 60), 4.0) > 0.2)
    # counted at full weight the spot would move the skin round it by 1.3 on average
    assert float(np.abs(diff[near]).mean()) < 0.5
