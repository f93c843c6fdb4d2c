"""The classic engine trades the selfie skin's light colour for the template's once per
track (server.vision.color.white_balanced); per frame only the light's drift is added.
That must give what balancing every frame would, and differ from shifting a and b."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from server.engines.classic import ClassicFace, ClassicOptions
from server.engines.classic_track import white_balanced
from server.vision import color
from tests.engines.test_classic_look import placed, still_template, swapped
from tests.render.samples import t1_face

STATS = np.array([[60.0, 10.0, 15.0], [5.0, 2.0, 2.0]], np.float32)


def test_the_colour_balanced_once_per_track_is_what_each_frame_would_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a darker face under a warmer light than the selfie's
    warm = np.clip(placed(t1_face("jennifer")) * np.array([0.45, 0.55, 0.8]), 0, 255)
    template = still_template(warm.astype(np.uint8), tmp_path, "warm")
    selfie = t1_face("david")
    per_track = swapped(template, selfie, ClassicOptions())
    shifted = swapped(template, selfie, ClassicOptions(white_balance=False))
    monkeypatch.setattr(color, "transfer", functools.partial(color.transfer, white_balance=True))
    per_frame = swapped(template, selfie, ClassicOptions(white_balance=False))

    def apart(a: list[np.ndarray], b: list[np.ndarray]) -> float:
        gaps = [np.abs(x.astype(np.int16) - y).mean() for x, y in zip(a, b, strict=True)]
        return float(np.mean(gaps))

    assert apart(shifted, per_frame) > 0.1  # the balance shows
    assert apart(per_track, per_frame) < 0.05 * apart(shifted, per_frame)


def test_a_track_without_skin_statistics_is_left_unbalanced() -> None:
    lab = np.full((8, 8, 3), (60.0, 10.0, 15.0), np.float32)
    face = ClassicFace(lab, np.zeros((76, 2), np.float32), np.ones((8, 8), np.float32), STATS)
    colour = np.full((3, 2, 3), np.nan, np.float32)
    assert white_balanced(face, colour, [0, 1, 2]) is face
    colour[1] = [[45.0, 18.0, 25.0], [4.0, 3.0, 3.0]]  # one frame with skin: the track's light
    balanced = white_balanced(face, colour, [0, 1, 2])
    assert balanced.balance is not None
    # a texture of the selfie skin's mean colour takes the track skin's chromaticity
    assert np.abs(balanced.balance.chroma - balanced.balance.light).max() < 1e-3


def test_a_selfie_through_a_strong_colour_filter_is_left_unbalanced() -> None:
    # skin lit through a red filter (little green, almost no blue), onto a neutral skin
    red = np.array([[45.0, 55.0, 55.0], [5.0, 2.0, 2.0]], np.float32)
    lab = np.full((8, 8, 3), red[0], np.float32)
    face = ClassicFace(lab, np.zeros((76, 2), np.float32), np.ones((8, 8), np.float32), red)
    assert color.balance_weight(red[0], STATS[0]) == 0.0
    assert white_balanced(face, np.stack([STATS] * 3), [0, 1, 2]) is face
