"""Lab colour statistics and transfer (server.vision.color)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from server.vision import color


def noise_image(seed: int = 0, h: int = 60, w: int = 80) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def disc(h: int = 60, w: int = 80, r: float = 22.0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (yy - h / 2) ** 2 + (xx - w / 2) ** 2 <= r * r


def test_lab_round_trip_gives_back_the_pixels() -> None:
    image = noise_image()
    lab = color.to_lab(image)
    assert lab.dtype == np.float32
    assert lab[..., 0].min() >= 0 and lab[..., 0].max() <= 100  # OpenCV float Lab: L 0..100
    back = color.lab_to_bgr(lab)
    # OpenCV's float Lab is not bit-exact: about a quarter level on average, and the
    # rounded pixels come back unchanged but for the odd one off by a level
    error = np.abs(back - image)
    assert error.max() < 1.5 and error.mean() < 0.3
    rounded = np.clip(back + 0.5, 0, 255).astype(np.uint8)
    assert np.abs(rounded.astype(int) - image).max() <= 1 and (rounded != image).mean() < 0.02


def test_lab_stats_of_a_known_patch() -> None:
    lab = np.zeros((40, 40, 3), np.float32)
    lab[..., 0] = 50.0
    lab[..., 1] = np.tile(np.linspace(-20, 20, 40, dtype=np.float32), (40, 1))  # uniform spread
    stats = color.lab_stats(lab, np.ones((40, 40), bool))
    assert stats.shape == (2, 3)
    np.testing.assert_allclose(stats[0], [50.0, 0.0, 0.0], atol=1e-4)
    # the outer 5 % on both sides are dropped: std of the middle 90 % of a uniform ramp
    middle = np.linspace(-20, 20, 40)[2:-2]
    assert stats[1, 1] == pytest.approx(middle.std(), rel=0.02)
    assert stats[1, 0] == pytest.approx(0.0, abs=1e-5)


def test_lab_stats_need_enough_pixels() -> None:
    lab = color.to_lab(noise_image())
    mask = np.zeros(lab.shape[:2], bool)
    mask[0, :15] = True
    assert np.isnan(color.lab_stats(lab, mask)).all()


def test_transfer_moves_masked_mean_and_std_to_the_target() -> None:
    lab = color.to_lab(noise_image(1))
    mask = disc()
    source = color.lab_stats(lab, mask)
    gains = np.array([1.3, 0.6, 1.1], np.float32)  # inside the clamps (0.4 .. 1.5)
    target = np.stack([source[0] + np.array([8.0, -5.0, 3.0], np.float32), source[1] * gains])
    moved = color.lab_stats(color.transfer(lab, source, target), mask)
    np.testing.assert_allclose(moved, target, rtol=1e-3, atol=1e-3)


def test_transfer_clamps_the_contrast_gain() -> None:
    lab = color.to_lab(noise_image(2))
    mask = disc()
    source = color.lab_stats(lab, mask)
    target = np.stack([source[0], source[1] * np.array([10.0, 0.01, 1.0], np.float32)])
    moved = color.lab_stats(color.transfer(lab, source, target), mask)
    np.testing.assert_allclose(moved[0], target[0], atol=1e-3)  # the mean still lands
    np.testing.assert_allclose(moved[1], source[1] * [1.5, 0.4, 1.0], rtol=1e-3)
    np.testing.assert_allclose(
        color.lab_stats(color.transfer(lab, source, target, 0.9, 1.1), mask)[1],
        source[1] * [1.1, 0.9, 1.0],
        rtol=1e-3,
    )


def test_smooth_stats_averages_over_the_window_and_ignores_missing_frames() -> None:
    n = 10
    stats = np.zeros((n, 2, 3), np.float32)
    stats[:, 0, 0] = np.arange(n) * 10.0  # mean L: 0, 10, 20, ...
    stats[:, 1, :] = 2.0
    stats[[3, 4]] = np.nan  # no face in frames 3 and 4
    stats[9] = np.nan
    out = color.smooth_stats(stats, window=3)
    assert out.shape == stats.shape and not np.isnan(out).any()
    assert out[0, 0, 0] == pytest.approx(5.0)  # frames 0, 1
    assert out[2, 0, 0] == pytest.approx(15.0)  # frames 1, 2 (3 missing)
    assert out[3, 0, 0] == pytest.approx(20.0)  # only frame 2 in reach
    assert out[4, 0, 0] == pytest.approx(50.0)  # only frame 5 in reach
    assert out[9, 0, 0] == pytest.approx(80.0)  # a missing frame gets its neighbours'
    np.testing.assert_allclose(out[:, 1], 2.0)


def test_smooth_stats_leaves_frames_without_any_face_in_reach_missing() -> None:
    stats = np.full((6, 2, 3), np.nan, np.float32)
    stats[0] = 1.0
    out = color.smooth_stats(stats, window=3)
    np.testing.assert_allclose(out[:2], 1.0)
    assert np.isnan(out[2:]).all()


def test_transfer_bounds_the_lightness_gain_alone_when_asked() -> None:
    rng = np.random.default_rng(1)
    lab = np.stack(
        [rng.normal(50, 5, (40, 40)), rng.normal(10, 4, (40, 40)), rng.normal(20, 4, (40, 40))], -1
    ).astype(np.float32)
    source = np.array([[50, 10, 20], [5, 4, 4]], np.float32)
    target = np.array([[60, 12, 22], [10, 6, 6]], np.float32)  # gains 2.0, 1.5, 1.5
    free = color.transfer(lab, source, target)
    held = color.transfer(lab, source, target, light_gain=(0.8, 1.2))
    assert np.std(free[..., 0]) == pytest.approx(1.5 * np.std(lab[..., 0]), rel=1e-3)
    assert np.std(held[..., 0]) == pytest.approx(1.2 * np.std(lab[..., 0]), rel=1e-3)
    assert np.allclose(free[..., 1:], held[..., 1:])
    assert np.mean(held[..., 0]) == pytest.approx(60 + 1.2 * (np.mean(lab[..., 0]) - 50), abs=1e-3)


def _linear(rgb: tuple[int, int, int]) -> np.ndarray:
    c = np.asarray(rgb, np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab_of_linear(linear: np.ndarray) -> np.ndarray:
    c = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    bgr = np.asarray(c[::-1], np.float32).reshape(1, 1, 3)
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2Lab)[0, 0], np.float64)


def _chromaticity(lab: np.ndarray) -> np.ndarray:
    return np.asarray(lab[..., 1:] / (lab[..., :1] + 16.0))


def _carried(
    selfie_skin: tuple[int, int, int], template_skin: tuple[int, int, int], reflects: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A surface reflecting ``reflects`` of the skin's light per channel (R, G, B), as
    the selfie shows it, transferred with and without white balance, and as the same
    surface would look under the template's skin light (Lab each)."""
    seen = _lab_of_linear(_linear(selfie_skin) * reflects).astype(np.float32)
    truth = _lab_of_linear(_linear(template_skin) * reflects)
    source = np.array([_lab_of_linear(_linear(selfie_skin)), [1, 1, 1]], np.float32)
    target = np.array([_lab_of_linear(_linear(template_skin)), [1, 1, 1]], np.float32)
    plain = color.transfer(seen.reshape(1, 1, 3), source, target)[0, 0]
    balanced = color.transfer(seen.reshape(1, 1, 3), source, target, white_balance=True)[0, 0]
    assert balanced[0] == plain[0]  # the lightness as before
    return plain, balanced, truth


@pytest.mark.parametrize(
    "selfie_skin, template_skin",
    [((225, 185, 165), (120, 78, 58)), ((150, 110, 90), (230, 190, 170))],
    ids=["onto a darker face", "onto a lighter face"],
)
def test_white_balance_keeps_a_pink_lid_the_same_pink_under_the_templates_light(
    selfie_skin: tuple[int, int, int], template_skin: tuple[int, int, int]
) -> None:
    # eye shadow: the skin's red reflected, less of its green and blue
    plain, balanced, truth = _carried(selfie_skin, template_skin, np.array([1.0, 0.7, 0.8]))
    assert np.abs(_chromaticity(balanced) - _chromaticity(truth)).max() < 0.005
    assert np.abs(_chromaticity(plain) - _chromaticity(truth)).max() > 0.03  # too red / pale


def test_white_balance_keeps_a_shadows_hue_from_a_yellow_painting_to_a_pink_face() -> None:
    # a varnished painting's yellow skin onto a pink template: its shadows are the same
    # surface under less light, so they must keep the template skin's hue
    for light in (0.3, 0.1):
        plain, balanced, truth = _carried((236, 200, 120), (230, 180, 160), np.full(3, light))
        assert np.abs(_chromaticity(balanced) - _chromaticity(truth)).max() < 0.005
        assert np.linalg.norm(balanced[1:] - truth[1:]) < 1.5
        assert plain[2] < 0.5 * truth[2]  # shifted alone: blue-purple shadows


def test_white_balance_fades_out_for_lights_too_far_apart_to_trade() -> None:
    def skin(
        rgb: tuple[int, int, int], filtered: tuple[float, float, float] = (1, 1, 1)
    ) -> np.ndarray:
        return _lab_of_linear(_linear(rgb) * np.array(filtered)).astype(np.float32)

    pale, dark_warm = skin((225, 185, 165)), skin((120, 78, 58))
    yellow, pink = skin((236, 200, 120)), skin((230, 180, 160))
    # as far apart as real skins and lights get: traded whole
    assert color.balance_weight(pale, dark_warm) == 1.0
    assert color.balance_weight(yellow, pink) == 1.0
    # through a strong red filter (green at 15 %, blue at 1 % of the light): not at all
    red = skin((225, 185, 165), (1.0, 0.15, 0.01))
    assert color.balance_weight(red, pink) == 0.0
    # in between, less the further apart
    weights = [
        color.balance_weight(skin((225, 185, 165), (1.0, 1.0, b)), pink) for b in (0.08, 0.05, 0.03)
    ]
    assert weights[0] > weights[1] > weights[2] and 0 < weights[1] < 1
    lab = red.reshape(1, 1, 3)
    plain = color.transfer(lab, np.stack([red, np.ones(3)]), np.stack([pink, np.ones(3)]))
    kept = color.transfer(
        lab, np.stack([red, np.ones(3)]), np.stack([pink, np.ones(3)]), white_balance=True
    )
    np.testing.assert_allclose(kept, plain)  # the shift, as without the balance
