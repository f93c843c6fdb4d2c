"""The classic engine trades the selfie skin's light colour for the template's once per
track (server.vision.color.white_balanced); per frame only the light's drift is added.
That must give what balancing every frame would, and differ from shifting a and b."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from server.engines.classic import ClassicOptions
from server.vision import color
from tests.engines.test_classic_look import placed, still_template, swapped
from tests.render.samples import t1_face


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
