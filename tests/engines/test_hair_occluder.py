"""Hair crossing a template's face stays in front of the swapped face: a dark lock drawn
from the temple over the forehead of a package face is found in the offline analysis,
kept out of the face layer, and nothing inside the face is taken for hair."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from server.gif_templates.analysis import TemplateAnalysis, analyse_animation
from server.gif_templates.occluders import HAIR, OCCLUDER
from server.types import Frame
from server.vision import glasses, hair, masks, shape
from tests.engines.test_occluders import david, swapped, without
from tests.render.samples import astronaut, dlib_models, puppet_clip

LOCK = (25, 45, 75)  # dark brown, BGR


def with_lock(image: Frame, lm: np.ndarray) -> tuple[Frame, np.ndarray]:
    """A copy of ``image`` with a thick lock of hair falling from beyond the face's
    left outline over the temple, beside the eye, to the cheek; and its mask."""
    lm = np.asarray(lm, np.float64)
    iod = shape.interocular(lm.astype(np.float32))
    path = np.array(
        [lm[0] + [-0.3 * iod, -0.4 * iod], lm[36] + [-0.3 * iod, 0.0], lm[2] + [0.2 * iod, 0.0]]
    )
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.polylines(mask, [np.round(path).astype(np.int32)], False, 1, int(0.12 * iod))
    out = image.copy()
    out[mask > 0] = LOCK
    return out, mask.astype(bool)


def face_landmarks(image: Frame) -> np.ndarray:
    return dlib_models().detect(image, use_cnn=False)[0].landmarks


@functools.cache
def locked_template() -> tuple[list[Frame], TemplateAnalysis]:
    still, _ = with_lock(astronaut(), face_landmarks(astronaut()))
    clip = puppet_clip(still, side=300, frames=6)
    analysis = analyse_animation(clip, dlib_models())
    assert analysis.tracks and analysis.tracks[0].present.all()
    return clip.frames, analysis


def in_frame(mask: np.ndarray, image: Frame, lm: np.ndarray) -> np.ndarray:
    box = glasses.Box(0, 0, image.shape[1], image.shape[0])
    return glasses.mask_in_box(mask, lm, box) > 0.5


def test_a_lock_over_the_temple_is_hair_and_the_skin_is_not() -> None:
    bare = astronaut()
    lm = face_landmarks(bare)
    locked, lock = with_lock(bare, lm)
    cheeks = masks.skin_mask(bare.shape[:2], lm) & ~lock
    for image, name in ((bare, "bare"), (locked, "locked")):
        found = in_frame(hair.hair_mask(*glasses.canonical_crop(image, lm)), image, lm)
        print(f"{name}: skin taken for hair {found[cheeks].mean():.4f}")
        assert found[cheeks].mean() < 0.01
    found = in_frame(hair.hair_mask(*glasses.canonical_crop(locked, lm)), locked, lm)
    # the lock inside the face's outline, above the nose tip, where the swap paints
    reach = masks.hull_mask(bare.shape[:2], lm[:27]) & lock
    reach[int(lm[33, 1]) :] = False
    assert reach.sum() > 200
    print(f"lock pixels in the face found: {found[reach].mean():.2f}")
    assert found[reach].mean() > 0.8


def test_the_lock_is_stored_and_stays_in_front_of_the_swap() -> None:
    frames, analysis = locked_template()
    extras = analysis.tracks[0].extras
    assert OCCLUDER in extras and np.nanmin(extras[HAIR]) > 0.01
    kept = {}
    for name, used in {"stored": analysis, "none": without(analysis, OCCLUDER)}.items():
        out = swapped(frames, used, david(False))
        shares = []
        for i, (before, after) in enumerate(zip(frames, out, strict=True)):
            lm = analysis.tracks[0].landmarks[i]
            lock = (np.abs(before.astype(int) - LOCK).max(2) < 20) & masks.hull_mask(
                before.shape[:2], lm[:27]
            )
            # The template is reshaped a little towards the selfie's proportions: a
            # lock pixel may move by a pixel or two.
            near = (np.abs(after.astype(int) - LOCK).max(2) < 40).astype(np.uint8)
            still_dark = cv2.dilate(near, np.ones((5, 5), np.uint8)) > 0
            shares.append(still_dark[lock].mean())
        kept[name] = float(np.mean(shares))
    print(f"lock pixels kept: {kept}")
    assert kept["stored"] > 0.85
    assert kept["none"] < 0.6  # the face layer paints over them
