"""Occluders stay in front: a template's glasses stay over the swapped face, and a
selfie's glasses never reach the output (classic engine, puppet clips of package
faces with drawn spectacles)."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from server.engines import load_engines
from server.engines.classic import ClassicEngine
from server.engines.neural import NeuralOptions
from server.faces.identity import build_identity
from server.gif_templates.analysis import TemplateAnalysis, analyse_animation
from server.gif_templates.occluders import GLASSES, OCCLUDER
from server.render.pipeline import swap_frames
from server.types import Box, Frame, IdentityData
from server.vision import glasses, glasses_removal, masks, shape
from tests.engines.conftest import Template
from tests.engines.synthetic import loaded_store
from tests.render.samples import astronaut, dlib_models, puppet_clip, t1_face
from tests.vision.spectacles import draw_glasses

DARK = (30, 28, 26)


def near_dark(image: Frame, tolerance: float) -> np.ndarray:
    return np.abs(image.astype(np.int16) - DARK).max(axis=2) < tolerance


@functools.cache
def template(worn: bool) -> tuple[list[Frame], TemplateAnalysis]:
    still = astronaut()
    if worn:
        still, _ = draw_glasses(
            still, dlib_models().detect(still, use_cnn=False)[0].landmarks, thickness=0.035
        )
    clip = puppet_clip(still, side=300, frames=6)
    analysis = analyse_animation(clip, dlib_models())
    assert analysis.tracks and analysis.tracks[0].present.all()
    return clip.frames, analysis


@functools.cache
def david(worn: bool) -> IdentityData:
    selfie = t1_face("david")
    if worn:
        selfie, _ = draw_glasses(selfie, dlib_models().detect(selfie, use_cnn=False)[0].landmarks)
    return build_identity([selfie], dlib_models())


def swapped(frames: list[Frame], analysis: TemplateAnalysis, identity: IdentityData) -> list[Frame]:
    engine = ClassicEngine()
    return swap_frames(frames, analysis, {0: identity}, engine, lambda _: None, lambda: False)


def without(analysis: TemplateAnalysis, *names: str) -> TemplateAnalysis:
    """``analysis`` with the extras ``names`` taken out of its tracks."""
    tracks = [
        replace(t, extras={k: v for k, v in t.extras.items() if k not in names})
        for t in analysis.tracks
    ]
    return replace(analysis, tracks=tracks)


def dark_lines(image: Frame) -> np.ndarray:
    """Black-hat of the grey image: thin dark lines, grey levels."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    return np.asarray(cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel), np.float32)


def face_region(frame: Frame, lm: np.ndarray) -> np.ndarray:
    """Jaw-and-brows hull, the eye openings left out (pupils and lashes are dark)."""
    region = masks.hull_mask(frame.shape[:2], lm[:27]).astype(np.uint8)
    for eye in (shape.EYE_L, shape.EYE_R):
        hull = cv2.convexHull(np.round(lm[eye]).astype(np.int32))
        cv2.fillConvexPoly(region, hull, 0)
        cv2.polylines(region, [hull], True, 0, 5)
    return region.astype(bool)


def test_the_template_glasses_are_found_and_stored() -> None:
    _, worn = template(True)
    _, bare = template(False)
    assert OCCLUDER in worn.tracks[0].extras
    # The bare face's occluder, if any, is its hair at the temples (see
    # test_hair_occluder): nothing between the eyes' outer corners.
    half, y = int(0.7 * glasses.CANON_IOD), int(glasses.CANON_EYES_Y)
    cx, dy = glasses.CANON_W // 2, int(0.25 * glasses.CANON_IOD)
    band = (slice(None), slice(y - dy, y + dy), slice(cx - half, cx + half))
    assert worn.tracks[0].extras[OCCLUDER][band].mean() > 0.1 * 255
    if OCCLUDER in bare.tracks[0].extras:
        assert bare.tracks[0].extras[OCCLUDER][band].mean() < 0.01 * 255
    assert np.nanmedian(worn.tracks[0].extras[GLASSES]) >= glasses.EVIDENCE_AT
    assert np.nanmax(bare.tracks[0].extras[GLASSES]) < glasses.EVIDENCE_AT


def test_the_template_glasses_stay_over_the_swapped_face() -> None:
    frames, analysis = template(True)
    kept = {}
    variants = {
        "stored": analysis,
        "older analysis": without(analysis, OCCLUDER, GLASSES),  # computed at render time
        "none": without(analysis, OCCLUDER),  # what the old code did
    }
    for name, used in variants.items():
        out = swapped(frames, used, david(False))
        shares = []
        for i, (before, after) in enumerate(zip(frames, out, strict=True)):
            rim = near_dark(before, 20) & face_region(before, analysis.tracks[0].landmarks[i])
            # The template is reshaped a little towards the selfie's proportions: a rim
            # pixel may move by a pixel or two.
            dark = cv2.dilate(near_dark(after, 45).astype(np.uint8), np.ones((5, 5), np.uint8))
            shares.append(dark[rim].mean())
        kept[name] = float(np.mean(shares))
    print(f"template frame pixels still dark: {kept}")
    assert kept["stored"] > 0.85 and kept["older analysis"] > 0.85
    assert kept["none"] < 0.5  # the face layer erases them


def test_the_selfie_glasses_do_not_reach_the_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendered with the glasses selfie, the output's face is (nearly) what the bare
    selfie gives: no frames, not even faint ones, where the old code pasted them."""
    frames, analysis = template(False)
    bare = swapped(frames, analysis, david(False))

    def darker_than_bare(identity: IdentityData) -> float:
        """Thin dark lines the output's face has and the bare selfie's has not (mean
        over the strongest 2% of the face, grey levels)."""
        out = swapped(frames, analysis, identity)
        extra = []
        for i, (a, b) in enumerate(zip(bare, out, strict=True)):
            region = face_region(a, analysis.tracks[0].landmarks[i])
            gained = (dark_lines(b) - dark_lines(a))[region]
            extra.append(np.sort(gained)[-max(1, gained.size // 50) :].mean())
        return float(np.mean(extra))

    removed = darker_than_bare(david(True))
    monkeypatch.setattr(glasses_removal, "remove_glasses", lambda image, lm, worn=None: image)
    pasted = darker_than_bare(david(True))  # the old behaviour: the selfie's frames come along
    print(f"dark lines gained over the bare selfie: removed {removed:.1f}, kept {pasted:.1f}")
    assert pasted > 40
    assert removed < 0.4 * pasted


def test_the_neural_paste_back_keeps_the_occluder(
    astro: Template, mixing_dir: Path, selfie_identity: IdentityData
) -> None:
    """A stored occluder (a band over the eyes here) is left as the template has it."""
    built = load_engines(None, loaded_store(mixing_dir), NeuralOptions())
    engine = built.engines["neural"]
    n = astro.analysis.frame_count
    band = np.zeros((n, glasses.CANON_H, glasses.CANON_W), np.uint8)
    band[:, 24:48, 8:120] = 255
    track = astro.analysis.tracks[0]
    covered = replace(track, extras={**track.extras, OCCLUDER: band})
    occluded = replace(astro.analysis, tracks=[covered])
    args = (engine, lambda _: None, lambda: False)
    plain = swap_frames(astro.frames, astro.analysis, {0: selfie_identity}, *args)
    kept = swap_frames(astro.frames, occluded, {0: selfie_identity}, *args)
    h, w = astro.frames[0].shape[:2]
    for i, frame in enumerate(astro.frames):
        under = glasses.mask_in_box(band[i] / 255.0, track.landmarks[i], Box(0, 0, w, h)) > 0.999
        assert under.sum() > 500
        assert np.abs(plain[i].astype(int) - frame)[under].max() > 2  # swapped there ...
        assert np.array_equal(kept[i][under], frame[under])  # ... unless occluded
