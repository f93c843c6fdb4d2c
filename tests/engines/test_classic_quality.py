"""Engine quality on faces shipped inside installed packages, scored by tools.quality
(dlib descriptors computed anew on the decoded output, independent of the render).

A template is made from one package face animated with the puppet (talking and
nodding, 24 frames, 300 px), analysed by the real analysis; the identity comes from a
different package face; the render goes through the real pipeline to GIF and is
decoded back. Bars (the issue's): in >= 80 % of face frames the output face is closer
to the selfie than to the template's own face, in >= 50 % within dlib's 0.6 of the
selfie, background PSNR outside the dilated face hull >= 40 dB, flicker <= 1.15.
On failure, template and output frames are written as PNG sheets for a human to see.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from server.engines import build_engines
from server.faces.identity import build_identity
from server.gif_templates.catalog import Template
from server.gif_templates.library import load_template_from_path
from server.gif_templates.media import read_animation, write_gif
from server.render.pipeline import render
from server.types import Frame
from tests.render.samples import astronaut, dlib_models, puppet_clip, t1_face, tom_hanks
from tools.quality import ClipScore, score_clip, selfie_descriptor, template_faces

BARS = {"id_closer": 0.8, "id_transfer": 0.5, "bg_psnr": 40.0}
MAX_FLICKER = 1.15


def face(name: str) -> Frame:
    if name == "astronaut":
        return astronaut()
    return tom_hanks() if name == "tom-hanks" else t1_face(name)


class TemplateCase:
    """A puppet template of one package face, analysed, with its own faces found by
    the quality check (shared by every selfie rendered into it)."""

    def __init__(self, name: str, folder: Path) -> None:
        write_gif(puppet_clip(face(name), side=300, frames=24), folder / f"{name}.gif")
        self.template: Template = load_template_from_path(
            folder / f"{name}.gif", dlib_models(), folder / name
        )
        self.frames = self.template.animation().frames
        self.faces = template_faces(dlib_models(), self.frames)


CaseOf = Callable[[str], "TemplateCase"]


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> CaseOf:
    folder = tmp_path_factory.mktemp("quality")

    @functools.cache
    def make(name: str) -> TemplateCase:
        return TemplateCase(name, folder)

    return make


def refaced(case: TemplateCase, selfie: Frame, out: Path) -> list[Frame]:
    identity = build_identity([selfie], dlib_models())
    track = case.template.analysis.tracks[0].track_id
    result = render(
        case.template, {track: identity}, build_engines(dlib_models())["classic"], "gif"
    )
    out.write_bytes(result.data)
    frames = read_animation(out).frames
    assert len(frames) == len(case.frames)
    return frames


def write_sheets(folder: Path, template: list[Frame], output: list[Frame]) -> Path:
    """Template frames above output frames, eight per sheet."""
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(template), 8):
        top = np.hstack(template[start : start + 8])
        bottom = np.hstack(output[start : start + 8])
        cv2.imwrite(str(folder / f"frames_{start:02d}.png"), np.vstack([top, bottom]))
    return folder


def failures(score: ClipScore) -> list[str]:
    bad = [f"{k} {getattr(score, k):.3f} < {v}" for k, v in BARS.items() if getattr(score, k) < v]
    if not score.flicker <= MAX_FLICKER:
        bad.append(f"flicker {score.flicker:.3f} > {MAX_FLICKER}")
    return bad


def check_pair(case_of: CaseOf, template_name: str, selfie_name: str, tmp_path: Path) -> ClipScore:
    case = case_of(template_name)
    assert case.template.analysis.tracks[0].present.all()
    assert sum(f.face is not None for f in case.faces) == len(case.frames)
    selfie = face(selfie_name)
    output = refaced(case, selfie, tmp_path / "out.gif")
    score = score_clip(
        dlib_models(), selfie_descriptor(dlib_models(), selfie), case.frames, output, case.faces
    )
    print(f"{selfie_name} -> {template_name}: {asdict(score)}")
    bad = failures(score)
    if bad:
        sheets = write_sheets(tmp_path / "sheets", case.frames, output)
        pytest.fail(f"{selfie_name} -> {template_name}: {'; '.join(bad)} (frames: {sheets})")
    return score


TURNED_GREY_SELFIE = pytest.mark.xfail(
    strict=True,
    reason="known limitation: insightface's Tom Hanks crop (112 px, greyscale, "
    "head turned: frontality 0.30, which build_identity warns about) on the t1 David "
    "template gives id_closer 0.92 but id_transfer 0.00 (mean distance 0.645 > 0.6)",
)


@pytest.mark.parametrize(
    ("template_name", "selfie_name"),
    [
        ("astronaut", "david"),
        ("astronaut", "jennifer"),  # head tilted, eyes half closed, hair over the forehead
        ("david", "astronaut"),
        pytest.param("david", "tom-hanks", marks=TURNED_GREY_SELFIE),
    ],
    ids=lambda name: name,
)
def test_classic_engine_quality_on_package_faces(
    case: CaseOf, template_name: str, selfie_name: str, tmp_path: Path
) -> None:
    check_pair(case, template_name, selfie_name, tmp_path)
