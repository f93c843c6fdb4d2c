"""Shut eyes read from the picture (server.vision.eye_state): dlib keeps a gap between
shut lids, so the landmarks alone miss them. Faces shipped in installed packages, with
their eyes shut by the puppet's blink (tools.selfie_variants)."""

from __future__ import annotations

import numpy as np
import pytest

from server.faces.identity import aligned_texture
from server.gif_templates.puppet import Expression, FacePuppet, HeadPose
from server.types import Frame
from server.vision import eye_state
from tests.faces.selfies import base
from tests.render.samples import astronaut, dlib_models, t1_face
from tools.selfie_variants import eyes_closed


def ratios(image: Frame) -> tuple[float, float]:
    face = dlib_models().detect(image, min_face=48, max_side=1280)[0]
    texture, lm = aligned_texture(image, face.landmarks)
    return eye_state.edge_ratio(texture, lm)


@pytest.mark.parametrize("name", ["jennifer", "david", "astronaut"])
def test_open_eyes_read_open_and_the_same_eyes_shut_read_shut(name: str) -> None:
    image = {"jennifer": lambda: base()[0], "david": lambda: t1_face("david")}.get(
        name, astronaut
    )()
    lm = dlib_models().detect(image, min_face=48, max_side=1280)[0].landmarks
    opened, shut = ratios(image), ratios(eyes_closed(image, lm))
    print(name, "open", opened, "shut", shut)
    assert not eye_state.shut(opened)
    assert eye_state.shut(shut)


def test_behind_glasses_only_the_clearest_shut_eyes_count() -> None:
    assert eye_state.shut((0.1, 0.12), glasses=True)
    assert eye_state.shut((0.25, 0.25)) and not eye_state.shut((0.25, 0.25), glasses=True)


def _winking(image: Frame) -> tuple[float, float]:
    lm = dlib_models().detect(image, min_face=48, max_side=1280)[0].landmarks
    frame, _ = FacePuppet(image, lm).render(Expression(wink=1.0), HeadPose())
    return ratios(np.ascontiguousarray(np.clip(frame, 0, 255), np.uint8))


@pytest.mark.parametrize("name", ["david", "astronaut"])
def test_a_wink_reads_shut(name: str) -> None:
    image = t1_face("david") if name == "david" else astronaut()
    winking = _winking(image)
    print(name, "winking", winking)
    assert not eye_state.shut(ratios(image))
    assert eye_state.shut(winking)


def test_one_low_eye_is_no_wink_on_a_turned_face_or_behind_glasses() -> None:
    """On a face turned away the low eye is the far one, foreshortened; glasses' frames
    add level edges to one eye as readily as to both."""
    winking = _winking(astronaut())
    assert eye_state.shut(winking)
    assert not eye_state.shut(winking, yaw=30.0)
    assert not eye_state.shut(winking, glasses=True)
