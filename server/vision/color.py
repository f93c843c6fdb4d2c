"""Colour statistics and transfer in CIE Lab (OpenCV float Lab: L 0..100, a/b about +-127)."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame


def to_lab(image: Frame) -> NDArray[np.float32]:
    lab = cv2.cvtColor(image.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_BGR2Lab)
    return np.asarray(lab, np.float32)


def lab_to_bgr(lab: NDArray[np.float32]) -> NDArray[np.float32]:
    """Lab back to BGR floats in 0..255 (not clipped)."""
    return cv2.cvtColor(lab, cv2.COLOR_Lab2BGR) * 255.0


def lab_stats(lab: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.float32]:
    """(2, 3): per-channel mean and standard deviation of the masked pixels, after
    dropping each channel's outer 5 % on both sides (a strand of hair, a glint or a
    shadow should not set the contrast of a whole face)."""
    px = lab[mask]
    if len(px) < 16:
        return np.full((2, 3), np.nan, np.float32)
    lo, hi = np.percentile(px, [5, 95], axis=0)
    out = np.empty((2, 3), np.float32)
    for c in range(3):
        v = px[:, c][(px[:, c] >= lo[c]) & (px[:, c] <= hi[c])]
        out[0, c], out[1, c] = v.mean(), v.std()
    return out


def skin_distance(
    lab: NDArray[np.float32], sample: NDArray[np.float32], floor: float = 4.0
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Squared distance of each pixel's colour (Lab a, b) from the skin ``sample`` (K, 3),
    in robust standard deviations (median absolute deviation: rims, moles, a strand of
    hair or a shadow in the sample must not widen what counts as skin; ``floor`` keeps
    flat painted skin's tiny spread from making every pixel far), and the sample's
    median Lab colour."""
    centre = np.median(sample, axis=0)
    spread = 1.4826 * np.median(np.abs(sample - centre), axis=0)
    var = spread[1:] ** 2 + floor
    d2 = (((lab[:, :, 1:] - centre[1:]) ** 2) / var).sum(axis=2)
    return np.asarray(d2, np.float32), np.asarray(centre, np.float32)


STATS_WINDOW = 9  # frames over which a template's colour statistics are averaged


def smooth_stats(stats: NDArray[np.float32], window: int = STATS_WINDOW) -> NDArray[np.float32]:
    """Moving average of per-frame (N, 2, 3) statistics over ``window`` frames,
    ignoring frames without a face (NaN); per-frame colour correction is a main source
    of flicker, so the target colour must change slowly."""
    n = len(stats)
    out = np.full_like(stats, np.nan)
    half = window // 2
    valid = ~np.isnan(stats[:, 0, 0])
    for i in range(n):
        lo, hi = max(0, i - half), min(n, i + half + 1)
        sel = valid[lo:hi]
        if sel.any():
            out[i] = stats[lo:hi][sel].mean(0)
    return out


def transfer(
    lab: NDArray[np.float32],
    source: NDArray[np.float32],
    target: NDArray[np.float32],
    min_gain: float = 0.4,
    max_gain: float = 1.5,
    light_gain: tuple[float, float] | None = None,
    white_balance: bool = False,
) -> NDArray[np.float32]:
    """Shift and scale each Lab channel from ``source`` (mean, std) to ``target``.

    Gains are clamped: raising contrast much would blow up the selfie's noise, and
    flattening it completely would erase its features. ``light_gain``: tighter bounds
    for the lightness channel alone. ``white_balance``: the colour (a, b) is instead
    :func:`white_balanced` at the transferred lightness.
    """
    gain = gains(source, target, min_gain, max_gain, light_gain)
    out = lab - source[0].astype(np.float32)
    out *= gain.astype(np.float32)
    out += target[0].astype(np.float32)
    if white_balance:
        weight = balance_weight(source[0], target[0])
        with_chromaticity(out, white_balanced(lab, source[0], target[0]), weight)
    return out


def gains(
    source: NDArray[np.float32],
    target: NDArray[np.float32],
    min_gain: float = 0.4,
    max_gain: float = 1.5,
    light_gain: tuple[float, float] | None = None,
) -> NDArray[np.float32]:
    """(3,): the per-channel gains :func:`transfer` applies (see there)."""
    gain = np.clip(target[1] / np.maximum(source[1], 1e-3), min_gain, max_gain)
    if light_gain is not None:
        gain[0] = np.clip(gain[0], *light_gain)
    return np.asarray(gain, np.float32)


def chromaticity(lab: NDArray[np.float32]) -> NDArray[np.float32]:
    """(..., 2) a / (L + 16) and b / (L + 16): what one surface keeps in Lab under more
    or less light of one colour (all three scale with the light's cube root)."""
    return np.asarray(lab[..., 1:] / np.maximum(lab[..., :1] + 16.0, 1.0), np.float32)


def with_chromaticity(
    lab: NDArray[np.float32], chroma: NDArray[np.float32], weight: float = 1.0
) -> None:
    """Set ``lab``'s a and b (in place) to ``chroma`` at its own lightness (``weight``:
    that share of the way from their own values)."""
    if weight >= 1.0:
        lab[..., 1:] = chroma * (lab[..., :1] + 16.0)
    else:
        lab[..., 1:] += weight * (chroma * (lab[..., :1] + 16.0) - lab[..., 1:])


def white_balanced(
    lab: NDArray[np.float32], source: NDArray[np.float32], target: NDArray[np.float32]
) -> NDArray[np.float32]:
    """The :func:`chromaticity` of ``lab`` once its linear light is multiplied, channel
    by channel, by the ratio of mean colour ``target`` to ``source`` (Lab each): von
    Kries's adaptation, one light's colour traded for another's.

    A colour transfer that shifts a and b alone turns a yellow painting's shadows
    purple on a pink face, and a pink eye shadow deep red on a darker face. Under a
    trade of light colour a shadow keeps the skin's hue, and a pink lid stays the same
    pink, darker or lighter with the lightness it is given."""
    light = np.maximum(_linear(lab), 0.0) * _light_ratio(source, target)
    return chromaticity(np.asarray(cv2.cvtColor(light, cv2.COLOR_LBGR2Lab), np.float32))


# Light colours whose channel ratios spread further than this (the largest over the
# smallest) are traded less, and from BALANCE_NONE not at all (see balance_weight).
# Between skins and lights as far apart as the devkit's (a pale face in neutral light
# onto a dark one in warm light) the spread is up to 6.5; through a strong colour
# filter, over 100.
BALANCE_FROM, BALANCE_NONE = 12.0, 36.0


def balance_weight(source: NDArray[np.float32], target: NDArray[np.float32]) -> float:
    """How much of :func:`white_balanced` to use from mean colour ``source`` to
    ``target`` (Lab): 1, falling to 0 as their channel ratios spread from
    ``BALANCE_FROM`` to ``BALANCE_NONE``. A selfie taken through a strong colour filter
    has a channel near black; traded, its noise and rounding were multiplied into the
    face's colour (a red-filtered face came out cyan, streaked with orange)."""
    ratio = _light_ratio(source, target)
    spread = float(ratio.max() / max(float(ratio.min()), 1e-6))
    fade = np.log(BALANCE_NONE / spread) / np.log(BALANCE_NONE / BALANCE_FROM)
    return float(np.clip(fade, 0.0, 1.0))


def _light_ratio(source: NDArray[np.float32], target: NDArray[np.float32]) -> NDArray[np.float32]:
    """Per linear BGR channel, mean colour ``target``'s light over ``source``'s (Lab)."""
    means = _linear(np.stack([source, target]).reshape(2, 1, 3).astype(np.float32))[:, 0]
    return np.asarray(means[1] / np.maximum(means[0], 1e-4), np.float32)


def _linear(lab: NDArray[np.float32]) -> NDArray[np.float32]:
    """Lab to linear-light BGR (OpenCV's LBGR: no sRGB gamma)."""
    return np.asarray(
        cv2.cvtColor(np.ascontiguousarray(lab, np.float32), cv2.COLOR_Lab2LBGR), np.float32
    )


MAX_SHADING = 20.0  # Lab L units


def shading_difference(
    target_bgr: NDArray[np.float32],
    source_l: NDArray[np.float32],
    weight: NDArray[np.float32],
    sigma: float,
) -> NDArray[np.float32]:
    """Low-frequency lightness of the target minus that of the source (Lab L units),
    both blurred with ``sigma`` over the ``weight``ed region only (normalised
    convolution, so the background does not bleed in).

    Added to the source's L, it replaces the selfie's baked-in lighting with the
    template's, frame by frame: lighting is fixed in the template's world while the
    face turns, and a face that carries its own shading along looks pasted on."""
    target_l = cv2.cvtColor(np.clip(target_bgr, 0, 255).astype(np.uint8), cv2.COLOR_BGR2Lab)
    target_l = target_l[:, :, 0].astype(np.float32) * (100.0 / 255.0)
    norm = lowpass(weight, sigma) + 1e-3
    t = lowpass(target_l * weight, sigma) / norm
    s = lowpass(source_l * weight, sigma) / norm
    # Bounded: it corrects lighting, it must not repaint a region.
    return np.asarray(np.clip(t - s, -MAX_SHADING, MAX_SHADING) * (weight > 0), np.float32)


def lowpass(image: NDArray[np.float32], sigma: float) -> NDArray[np.float32]:
    """Gaussian blur with a large ``sigma``, computed at reduced resolution (a blur of
    sigma 20 px needs no more than a few samples per sigma): about 10x cheaper."""
    h, w = image.shape[:2]
    return enlarged(lowpass_small(image, sigma), (h, w))


def lowpass_small(image: NDArray[np.float32], sigma: float) -> NDArray[np.float32]:
    """:func:`lowpass` before it is brought back to ``image``'s size (see
    :func:`enlarged`): ratios and differences of low-passed images are as well taken
    there, at a few samples per ``sigma``."""
    h, w = image.shape[:2]
    f = max(1.0, sigma / 3.0)
    small_size = (max(2, round(w / f)), max(2, round(h / f)))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.GaussianBlur(small, (0, 0), sigma * small_size[0] / w), np.float32)


def enlarged(small: NDArray[np.float32], size: tuple[int, int]) -> NDArray[np.float32]:
    """A :func:`lowpass_small` result at ``size`` (h, w)."""
    h, w = size
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)
