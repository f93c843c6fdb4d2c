"""Small template faces: the detail-matching blur fades out below an inter-ocular
distance of 48 px (at 28 px, in full, it smeared the selfie's eyes into dark blobs),
a track
under 36 px keeps the template's eye openings, and a face under 24 px is swapped
enlarged, leaving the rest of the frame exactly as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from server.engines import small_faces
from server.engines.classic import ClassicEngine, ClassicOptions
from server.faces.identity import build_identity
from server.gif_templates.analysis import analyse_animation
from server.gif_templates.media import read_animation
from server.render.pipeline import render
from server.types import Animation
from server.vision import shape
from tests.engines.test_classic_look import dark_features, placed
from tests.render.samples import MemoryTemplate, astronaut, dlib_models, puppet_clip, t1_face
from tools.artefacts import measure


def test_detail_share_fades_with_face_size() -> None:
    assert small_faces.detail_share(6.0) == 0.0
    assert small_faces.detail_share(20.0) == pytest.approx(0.5)
    assert small_faces.detail_share(40.0) == 1.0
    small = np.zeros((68, 2), np.float32)
    small[36:42], small[42:48] = (100.0, 100.0), (112.0, 100.0)
    assert small_faces.scale_for(small) == pytest.approx(2.0)


def _small_soft_template(face_width: float, blur: float) -> MemoryTemplate:
    clip = puppet_clip(t1_face("jennifer"), side=300, frames=8, face_width=face_width)
    frames = [np.asarray(cv2.GaussianBlur(f, (0, 0), blur), np.uint8) for f in clip.frames]
    anim = Animation(frames, clip.durations_ms, clip.loop)
    analysis = analyse_animation(anim, dlib_models())
    assert analysis.tracks and analysis.tracks[0].present.all()
    return MemoryTemplate(analysis, frames)


def _eyes(template: MemoryTemplate, tmp_path: Path) -> Any:
    identity = build_identity([astronaut()], dlib_models())
    track = template.analysis.tracks[0]
    out = render(template, {track.track_id: identity}, ClassicEngine(), "gif")
    (tmp_path / "out.gif").write_bytes(out.data)
    frames = read_animation(tmp_path / "out.gif").frames
    lms = list(track.landmarks)
    return measure(template.frames, frames, lms, [None] * len(lms))


def test_a_small_soft_face_keeps_legible_eyes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = _small_soft_template(0.2, 1.2)
    track = template.analysis.tracks[0]
    iod = float(np.median([shape.interocular(lm) for lm in track.landmarks]))
    assert 20 < iod < 36, iod  # a face about 60 px across
    faded = _eyes(template, tmp_path)
    monkeypatch.setattr(small_faces, "detail_share", lambda iod: 1.0)
    full = _eyes(template, tmp_path)
    assert faded.eye_detail > 1.15 * full.eye_detail, (faded, full)
    assert faded.eye_light > 0.9  # and no darker than a tenth below the template


def test_a_tiny_face_is_swapped_enlarged_and_the_rest_kept(tmp_path: Path) -> None:
    template = _small_soft_template(0.12, 0.5)
    lm = template.analysis.tracks[0].landmarks[0]
    assert small_faces.scale_for(lm) > 1.0
    identity = build_identity([astronaut()], dlib_models())
    engine = ClassicEngine()
    face = engine.prepare_identity(identity)
    track = template.analysis.tracks[0]
    plan = engine.plan_track(face, track.landmarks, template.frames)
    frame = template.frames[0].copy()
    result = engine.swap(frame, 0, lm, face, plan)
    assert result is not None
    changed = np.abs(frame.astype(int) - template.frames[0]).sum(2) > 0
    inside = np.zeros(changed.shape, bool)
    b = result.box
    inside[b.top : b.bottom, b.left : b.right] = result.mask
    assert changed.any() and not (changed & ~inside).any()


def _eye_difference(
    template: MemoryTemplate, image: np.ndarray, options: ClassicOptions, folder: Path
) -> float:
    """Mean absolute difference (grey levels) between the output and the template
    inside the template's eye openings, over all frames."""
    track = template.analysis.tracks[0]
    identity = build_identity([image], dlib_models())
    out = render(template, {track.track_id: identity}, ClassicEngine(options), "gif")
    (folder / "eyes.gif").write_bytes(out.data)
    frames = read_animation(folder / "eyes.gif").frames
    diffs = []
    for i, lm in enumerate(track.landmarks):
        mask = np.zeros(frames[i].shape[:2], np.uint8)
        for eye in (shape.EYE_L, shape.EYE_R):
            cv2.fillPoly(mask, [np.round(lm[eye]).astype(np.int32)], 1)
        out_grey, own_grey = (
            cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.float32)
            for f in (frames[i], template.frames[i])
        )
        diffs.append(float(np.abs(out_grey - own_grey)[mask > 0].mean()))
    return float(np.mean(diffs))


def test_a_small_face_keeps_the_template_eyes_and_a_larger_one_the_selfie_eyes(
    tmp_path: Path,
) -> None:
    """Below TEMPLATE_EYES_IOD the selfie's iris and dark make-up shrink into smudges:
    the template's own eye openings are kept there. Above it the selfie's eyes are."""
    selfie = dark_features(placed(astronaut()))
    small = _small_soft_template(0.2, 1.2)
    iod = float(np.median([shape.interocular(lm) for lm in small.analysis.tracks[0].landmarks]))
    assert iod < small_faces.TEMPLATE_EYES_IOD
    kept = _eye_difference(small, selfie, ClassicOptions(), tmp_path)
    selfies = _eye_difference(small, selfie, ClassicOptions(small_face_eyes=False), tmp_path)
    print(f"small face ({iod:.0f} px): eyes off the template by {kept:.1f}, {selfies:.1f} without")
    assert kept < 0.4 * selfies
    large = _small_soft_template(0.42, 0.5)
    lms = large.analysis.tracks[0].landmarks
    assert float(np.median([shape.interocular(lm) for lm in lms])) > small_faces.TEMPLATE_EYES_IOD
    swapped = _eye_difference(large, selfie, ClassicOptions(), tmp_path)
    unchanged = _eye_difference(large, selfie, ClassicOptions(small_face_eyes=False), tmp_path)
    print(f"larger face: eyes off the template by {swapped:.1f} ({unchanged:.1f} without)")
    assert swapped == unchanged and swapped > 1.2 * kept
