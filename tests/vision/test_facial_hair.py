"""A selfie's moustache is found, and keeps its depth through a colour transfer that
flattens the face's light (:mod:`server.vision.facial_hair`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from server.faces.identity import build_identity
from server.vision import color, facial_hair, masks
from tests.render.samples import astronaut, dlib_models, t1_face


def with_moustache(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``image`` with a full, dark, grainy moustache drawn from under the nose over the
    upper lip and down past the mouth's corners; where it is; the image's landmarks."""
    lm = np.asarray(dlib_models().detect(image, use_cnn=False)[0].landmarks, np.float64)
    width = lm[54] - lm[48]
    across = width / np.linalg.norm(width)
    down = np.array([-across[1], across[0]])
    iod = float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))
    top = lm[33] + 0.06 * iod * down
    lip = lm[51] + 0.02 * iod * down
    poly = []
    for side, corner in ((-1.0, lm[48]), (1.0, lm[54])):
        poly.append(
            [
                top + side * 0.35 * width,
                corner + side * 0.25 * width,
                corner + side * 0.25 * width + 0.5 * iod * down,
                corner + side * 0.02 * width + 0.45 * iod * down,
                corner - side * 0.05 * width,
                lip + side * 0.2 * width,
            ]
        )
    outline = poly[0] + poly[1][::-1]
    drawn = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(drawn, [np.round(np.array(outline)).astype(np.int32)], 1)
    grain = np.random.default_rng(3).integers(-12, 12, image.shape, endpoint=True)
    hair = np.clip(np.array([28, 34, 44]) + grain, 0, 255).astype(np.uint8)
    out = image.copy()
    out[drawn > 0] = hair[drawn > 0]
    return out, drawn.astype(bool), lm.astype(np.float32)


@pytest.fixture(scope="module")
def faces() -> dict[str, np.ndarray]:
    return {"astronaut": astronaut(), "david": t1_face("david")}


@pytest.mark.parametrize("name", ["astronaut", "david"])
def test_a_drawn_moustache_is_found_and_the_clean_skin_is_not(
    faces: dict[str, np.ndarray], name: str
) -> None:
    image, drawn, lm = with_moustache(faces[name])
    found = facial_hair.facial_hair(color.to_lab(image), lm)
    skin = masks.skin_mask(image.shape[:2], lm)
    recall = (found & drawn).sum() / max((skin & drawn).sum(), 1)
    stray = (found & ~drawn).sum() / skin.sum()
    share = (skin & drawn).sum() / skin.sum()
    print(f"{name}: moustache {share:.3f} of the skin, found {recall:.2f}, skin marked {stray:.3f}")
    assert share > 0.04
    assert recall > 0.8
    assert stray < 0.02
    clean = build_identity([faces[name]], dlib_models())
    assert not facial_hair.facial_hair(color.to_lab(clean.texture), clean.landmarks).any()


def test_red_lips_as_dark_as_hair_are_not_hair() -> None:
    identity = build_identity([astronaut()], dlib_models())
    lab, lm = color.to_lab(identity.texture).copy(), identity.landmarks
    skin = masks.skin_mask(lab.shape[:2], lm)
    yy = np.indices(skin.shape)[0]
    chin = skin & (yy > lm[57, 1] + 2) & (yy < lm[57, 1] + 0.6 * (lm[8, 1] - lm[57, 1]))
    assert chin.sum() > 0.05 * skin.sum()
    lab[chin] = (25.0, 40.0, 25.0)  # dark red: lips below a misplaced mouth
    assert not facial_hair.facial_hair(lab, lm).any()
    lab[chin] = (25.0, 5.0, 8.0)  # as dark, brown: a beard
    assert facial_hair.facial_hair(lab, lm)[chin].mean() > 0.9


def transferred(gain: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A texture's lightness (skin at 60, a hair patch at 15), that texture after a
    transfer of lightness gain ``gain`` about the skin (to 75) with a skin colour, and
    the hair's weight."""
    light = np.full((20, 20), 60.0, np.float32)
    hair = np.zeros((20, 20), np.float32)
    light[5:15, 5:15], hair[5:15, 5:15] = 15.0, 1.0
    lab = np.zeros((20, 20, 3), np.float32)
    lab[:, :, 0] = 75.0 + (light - 60.0) * gain
    lab[:, :, 1:] = (12.0, 16.0)
    return light, lab, hair


def test_facial_hair_keeps_its_depth_and_its_colour_under_a_low_gain() -> None:
    light, lab, hair = transferred(0.4)
    before = lab.copy()
    facial_hair.keep_depth(lab, light, hair, 60.0, 0.4)
    patch = hair > 0
    depth = 75.0 - lab[patch, 0]
    np.testing.assert_allclose(depth, facial_hair.HAIR_GAIN * 45.0, atol=1e-3)
    np.testing.assert_array_equal(lab[~patch], before[~patch])  # the skin as it was
    chroma = color.chromaticity(lab[patch])
    np.testing.assert_allclose(chroma, color.chromaticity(before[patch]), atol=1e-5)


def test_a_gain_at_or_above_hair_gain_leaves_the_face_alone() -> None:
    light, lab, hair = transferred(0.9)
    before = lab.copy()
    facial_hair.keep_depth(lab, light, hair, 60.0, 0.9)
    np.testing.assert_array_equal(lab, before)
