"""Brows and eyes keep their contrast when the colour transfer flattens a face's
lightness (:mod:`server.vision.feature_contrast`)."""

from __future__ import annotations

import numpy as np
import pytest

from server.engines.classic import ClassicEngine, ClassicOptions
from server.faces.identity import build_identity
from server.vision import color, face_parts, feature_contrast, shape
from server.vision.masks import hull_mask
from tests.render.samples import dlib_models, t1_face
from tests.vision.spectacles import draw_glasses


def face_lab(name: str) -> tuple[np.ndarray, np.ndarray]:
    identity = build_identity([t1_face(name)], dlib_models())
    pts = shape.with_forehead(np.asarray(identity.landmarks, np.float32))
    return color.to_lab(identity.texture), pts


def depth(light: np.ndarray, pts: np.ndarray) -> float:
    """How far the darkest tenth of brows and eyes lies below the face's skin (median)."""
    size = light.shape
    features = face_parts.feature_mask(size, pts, parts=("brows", "eyes")) > 0.9
    skin = hull_mask(size, pts) & (face_parts.feature_mask(size, pts) < 0.01)
    dark = np.percentile(light[features], 10)
    return float(np.median(light[skin]) - dark)


@pytest.mark.parametrize("name", ["david", "jennifer"])
def test_brows_and_eyes_keep_their_depth_under_a_low_gain(name: str) -> None:
    """A gain of 0.4 about the skin's mean leaves brows and eyes 0.4 of their depth;
    with the texture deepened first to keep 0.7, measured 0.61 and 0.66 (the step
    measures depth against the skin nearby, this test against the whole face's). The
    skin away from them is untouched."""
    lab, pts = face_lab(name)
    stats = color.lab_stats(lab, hull_mask(lab.shape[:2], pts))
    target = stats.copy()
    target[1, 0] = stats[1, 0] * 0.4  # a flat clip: the lightness gain falls to 0.4

    def after_transfer(texture: np.ndarray) -> float:
        out = color.transfer(texture, stats, target, min_gain=0.1)
        return depth(out[:, :, 0], pts)

    deepened = feature_contrast.kept(lab, pts, 0.4, 0.7)
    own = depth(lab[:, :, 0], pts)
    plain, kept = after_transfer(lab) / own, after_transfer(deepened) / own
    print(f"{name}: depth after the gain {plain:.2f} of the selfie's, kept {kept:.2f}")
    assert plain == pytest.approx(0.4, abs=0.02)
    assert 0.55 < kept < 0.8
    size = lab.shape[:2]
    away = hull_mask(size, pts) & (face_parts.feature_mask(size, pts) == 0)
    assert np.array_equal(deepened[away], lab[away])


def test_a_gain_at_or_above_the_least_changes_nothing() -> None:
    lab, pts = face_lab("david")
    assert feature_contrast.kept(lab, pts, 0.7, 0.7) is lab
    assert feature_contrast.kept(lab, pts, 1.3, 0.7) is lab


def plan_texture(image: np.ndarray, options: ClassicOptions) -> np.ndarray:
    """The classic engine's texture planned for a flat clip: david's own face with its
    lightness spread cut to a third (the colour transfer's gain falls to 0.4)."""
    models = dlib_models()
    engine = ClassicEngine(options)
    face = engine.prepare_identity(build_identity([image], models))
    clip = t1_face("david")
    lm = models.detect(clip, use_cnn=False)[0].landmarks
    lab = color.to_lab(clip)
    flat = lab.copy()
    flat[:, :, 0] = lab[:, :, 0].mean() + (lab[:, :, 0] - lab[:, :, 0].mean()) / 3
    frame = np.clip(color.lab_to_bgr(flat) + 0.5, 0, 255).astype(np.uint8)
    plan = engine.plan_track(face, lm[None], [frame])
    return plan.face.texture_lab


def test_the_engine_deepens_bare_eyes_but_not_eyes_that_wore_glasses() -> None:
    """Painted-out glasses leave faint traces of the rims round the eyes, which the
    deepening would bring back: a selfie that wore glasses is left as it is."""
    bare = t1_face("jennifer")
    lm = dlib_models().detect(bare, use_cnn=False)[0].landmarks
    worn, _ = draw_glasses(bare, lm, (30, 28, 26))
    for image, changed in ((bare, True), (worn, False)):
        on = plan_texture(image, ClassicOptions())
        off = plan_texture(image, ClassicOptions(feature_contrast=0.0))
        assert (not np.array_equal(on, off)) is changed
