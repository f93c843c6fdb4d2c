"""A selfie's rouge does not reach the swapped face: the classic engine gives the face
the template skin's broad tint (``ClassicOptions.skin_tint``), as it gives it the
template's light."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from server.engines.classic import ClassicEngine, ClassicOptions
from server.faces.identity import build_identity
from server.gif_templates.catalog import Template
from server.gif_templates.library import load_template_from_path
from server.gif_templates.media import write_gif
from server.types import Frame
from server.vision import shape
from tests.render.samples import astronaut, dlib_models, puppet_clip, t1_face


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    clip = puppet_clip(astronaut(), side=240, frames=3)
    tmp = tmp_path_factory.mktemp("tint")
    write_gif(clip, tmp / "clip.gif")
    return load_template_from_path(tmp / "clip.gif", dlib_models(), tmp / "template")


def rouged(image: Frame) -> Frame:
    """``image`` with a soft red disc over its image-left cheek (Lab a up to +14)."""
    lm = dlib_models().detect(image, use_cnn=False)[0].landmarks.astype(np.float64)
    centre = (lm[2] + lm[31]) / 2
    radius = 0.4 * shape.interocular(lm.astype(np.float32))
    ys, xs = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    disc = np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * radius**2))
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2Lab).astype(np.float32)
    lab[:, :, 1] += 14.0 * disc  # 8-bit Lab: a is 128 + a*
    return np.asarray(cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_Lab2BGR))


def rendered(template: Template, image: Frame, tint: float) -> tuple[list[Frame], list[np.ndarray]]:
    """The template's face frames swapped with ``image``, and where each changed."""
    engine = ClassicEngine(ClassicOptions(skin_tint=tint))
    face = engine.prepare_identity(build_identity([image], dlib_models()))
    track = template.analysis.tracks[0]
    frames = template.animation().frames
    plan = engine.plan_track(face, track.landmarks, frames)
    out, where = [], []
    for i in np.flatnonzero(track.present):
        frame = frames[i].copy()
        result = engine.swap(frame, int(i), track.landmarks[i], face, plan)
        assert result is not None
        mask = np.zeros(frame.shape[:2], bool)
        b = result.box
        mask[b.top : b.bottom, b.left : b.right] = result.mask
        out.append(frame)
        where.append(mask)
    return out, where


def redness(frames: list[Frame], plain: list[Frame]) -> list[np.ndarray]:
    """Per frame, Lab a of ``frames`` above ``plain``'s (the same render without rouge)."""
    out = []
    for f, p in zip(frames, plain, strict=True):
        a = cv2.cvtColor(f, cv2.COLOR_BGR2Lab)[:, :, 1].astype(np.float32)
        out.append(a - cv2.cvtColor(p, cv2.COLOR_BGR2Lab)[:, :, 1].astype(np.float32))
    return out


def test_the_selfies_rouge_fades_into_the_template_skins_tint(template: Template) -> None:
    selfie = t1_face("david")
    red = rouged(selfie)
    frames, masks = rendered(template, red, 0.0)
    without = redness(frames, rendered(template, selfie, 0.0)[0])
    with_tint = redness(rendered(template, red, 1.0)[0], rendered(template, selfie, 1.0)[0])
    for m, before, after in zip(masks, without, with_tint, strict=True):
        cheek = m & (before > 3.0)  # where the rouge shows without the tint
        assert cheek.sum() > 100
        assert float(before[cheek].mean()) > 4.0
        # 0.4-0.5 of it remains: the tint is as broad as the light (0.3 inter-ocular
        # distances), and a cheek's rouge is not much broader
        assert float(after[cheek].mean()) < 0.6 * float(before[cheek].mean())
