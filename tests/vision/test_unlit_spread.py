"""A face's lightness spread measured without its light (:func:`shading.unlit_spread`):
the colour transfer's gain must not count a template's side light, which the shading
layer applies anyway, as contrast to give the selfie."""

from __future__ import annotations

import numpy as np

from server.vision import masks, shading
from tests.render.samples import astronaut, dlib_models, t1_face


def side_lit(image: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """``image`` lit from the image's left: half as bright at the face's right edge as
    at its left, the light falling smoothly across the face."""
    x = np.arange(image.shape[1], dtype=np.float32)
    left, right = float(lm[0, 0]), float(lm[16, 0])
    t = np.clip((x - left) / max(right - left, 1.0), 0.0, 1.0)
    light = 1.0 - 0.5 * t * t * (3 - 2 * t)
    return np.clip(image * light[None, :, None] + 0.5, 0, 255).astype(np.uint8)


def test_side_light_doubles_the_spread_but_not_the_unlit_spread() -> None:
    for image in (astronaut(), t1_face("david")):
        lm = np.asarray(dlib_models().detect(image, use_cnn=False)[0].landmarks, np.float32)
        lit = side_lit(image, lm)
        plain = [float(masks.face_colour_stats(im, lm)[1, 0]) for im in (image, lit)]
        unlit = [shading.face_unlit_spread(im, lm) for im in (image, lit)]
        assert plain[1] > 1.25 * plain[0]  # the light spreads the skin's lightness (1.3-1.6x)
        # without it the lit face spreads about as far as the face itself (0.8-0.9x:
        # darker, its detail is a little flatter)
        assert 0.7 * unlit[0] < unlit[1] < 1.1 * unlit[0]
        assert unlit[0] > 1.0  # features and detail remain


def test_unlit_spread_of_an_even_patch_is_its_noise() -> None:
    rng = np.random.default_rng(0)
    light = (60.0 + rng.normal(0.0, 2.0, (120, 120))).astype(np.float32)
    light += np.linspace(-15.0, 15.0, 120, dtype=np.float32)[None, :]  # broad light
    skin = np.zeros((120, 120), bool)
    skin[20:100, 20:100] = True
    assert float(light[skin].std()) > 6.0
    assert abs(shading.unlit_spread(light, skin, 8.0) - 2.0) < 0.5
    assert shading.unlit_spread(light, np.zeros_like(skin), 8.0) == 0.0
