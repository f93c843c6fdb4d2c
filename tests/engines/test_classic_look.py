"""What the classic engine takes from the template and what from the selfie: the
template's mouth (expression) and lighting, the selfie's face without its own mouth,
side lighting or softness, and none of the template's own features showing through.

Templates are still-faced puppet clips of a package face (mouth closed, a slight
nod), analysed by the real analysis; selfies are package faces altered the way phone
selfies and portraits differ: an open mouth with teeth, a hard side light, blur.
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
import pytest

from server.engines.classic import ClassicEngine, ClassicOptions
from server.faces.identity import build_identity
from server.gif_templates.catalog import Template
from server.gif_templates.library import load_template_from_path
from server.gif_templates.media import write_gif
from server.gif_templates.puppet import Expression, FacePuppet, HeadPose
from server.render.pipeline import swap_frames
from server.types import Animation, Frame
from server.vision import detail, masks, shape
from tests.render.samples import astronaut, dlib_models, t1_face

OLD = ClassicOptions(
    template_mouth=False, template_lips="never", even_light=0.0, skin_shading=False
)
FRAMES = 6


def placed(still: Frame, side: int = 260, face_width: float = 0.42) -> Frame:
    """The face in ``still`` centred in a square at ``face_width`` of its width."""
    box = dlib_models().detect(still, use_cnn=False)[0].box
    k = face_width * side / box.width
    cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    m = np.array([[k, 0.0, side / 2 - cx * k], [0.0, k, 0.45 * side - cy * k]])
    out = cv2.warpAffine(still, m, (side, side), flags=cv2.INTER_AREA, borderMode=1)
    return np.ascontiguousarray(out, np.uint8)


def posed(image: Frame, expr: Expression, head: HeadPose | None = None) -> Frame:
    lm = dlib_models().detect(image, use_cnn=False)[0].landmarks
    frame, _ = FacePuppet(image, lm).render(expr, head or HeadPose())
    return np.ascontiguousarray(frame, np.uint8)


def still_template(image: Frame, folder: Path, name: str) -> Template:
    """A closed-mouth clip of ``image``'s face nodding slightly, analysed."""
    frames = [
        posed(image, Expression(), HeadPose(angle=1.5 * np.sin(i), dy=0.03 * np.sin(i)))
        for i in range(FRAMES)
    ]
    write_gif(Animation(frames, [80] * FRAMES, 0), folder / f"{name}.gif")
    return load_template_from_path(folder / f"{name}.gif", dlib_models(), folder / name)


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Template]:
    folder = tmp_path_factory.mktemp("look")
    face = placed(t1_face("jennifer"))
    return {
        "plain": still_template(face, folder, "plain"),
        "dark": still_template(dark_features(face), folder, "dark"),
        "sharp": still_template(placed(astronaut()), folder, "sharp"),
    }


def dark_features(image: Frame) -> Frame:
    """The face with heavy dark make-up: thick black brows, dark eye shadow
    (what must not ghost through a swapped face)."""
    lm = dlib_models().detect(image, use_cnn=False)[0].landmarks
    iod = shape.interocular(lm)
    out = image.copy()
    for brow in (lm[17:22], lm[22:27]):
        cv2.polylines(out, [np.round(brow).astype(np.int32)], False, (20, 20, 25), int(0.14 * iod))
    for eye in (lm[36:42], lm[42:48]):
        centre = tuple(int(v) for v in eye.mean(0))
        cv2.ellipse(out, centre, (int(0.32 * iod), int(0.16 * iod)), 0, 0, 360, (30, 25, 35), -1)
    return out


@functools.cache
def selfie(kind: str) -> Frame:
    face = t1_face("david")
    if kind == "open":
        return posed(face, Expression(mouth_open=1.0, smile=0.4))
    if kind == "side":
        return side_lit(face)
    if kind == "painted":
        return painted_lips(posed(face, Expression(mouth_open=1.0, smile=0.4)))
    if kind == "soft":
        return np.ascontiguousarray(cv2.GaussianBlur(face, (0, 0), 3.0), np.uint8)
    return face


def painted_lips(image: Frame) -> Frame:
    """Lips painted a strong blue (what must not be pasted onto the template)."""
    lm = dlib_models().detect(image, use_cnn=False)[0].landmarks
    lips = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(lips, [np.round(lm[48:60]).astype(np.int32)], 1)
    cv2.fillPoly(lips, [np.round(lm[60:68]).astype(np.int32)], 0)
    out = image.copy()
    out[lips > 0] = (0.3 * out[lips > 0] + 0.7 * np.array([200, 80, 40])).astype(np.uint8)
    return out


def side_lit(image: Frame) -> Frame:
    """Lit hard from the image-right: the image-left half of the face darkened by a
    ramp from 1 down to 0.35, steepest across the nose."""
    lm = dlib_models().detect(image, use_cnn=False)[0].landmarks
    mid, width = float(lm[27:31, 0].mean()), float(lm[16, 0] - lm[0, 0])
    x = np.arange(image.shape[1], dtype=np.float32)
    gain = 0.35 + 0.65 * np.clip((x - (mid - 0.2 * width)) / (0.4 * width), 0.0, 1.0)
    return np.clip(image * gain[None, :, None] + 0.5, 0, 255).astype(np.uint8)


def swapped(template: Template, image: Frame, options: ClassicOptions) -> list[Frame]:
    identity = build_identity([image], dlib_models())
    frames = template.animation().frames
    engine = ClassicEngine(options)
    return swap_frames(frames, template.analysis, {0: identity}, engine, print, lambda: False)


def lightness(frame: Frame) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_BGR2Lab)[:, :, 0].astype(np.float32) * (100 / 255)


def landmarks(template: Template, i: int) -> np.ndarray:
    return np.asarray(template.analysis.tracks[0].landmarks[i], np.float64)


def mouth_look(frame: Frame) -> tuple[np.ndarray, float, float]:
    """Of the face dlib finds in ``frame``: the mean Lab colour of its lips (outer-lip
    polygon), the share of it that is teeth (pale and brighter than the skin), and
    how far apart the inner lips are, in inter-ocular distances."""
    lm = dlib_models().detect(frame, use_cnn=False)[0].landmarks
    lab = cv2.cvtColor(frame, cv2.COLOR_BGR2Lab).astype(np.float32)
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    skin = masks.skin_mask(frame.shape[:2], lm)
    lips = masks.hull_mask(frame.shape[:2], lm[48:60])
    pale = chroma < 0.5 * np.median(chroma[skin])
    bright = lab[..., 0] > np.median(lab[..., 0][skin])
    teeth = float((pale & bright & lips).sum() / lips.sum())
    gap = float((lm[[65, 66, 67], 1] - lm[[63, 62, 61], 1]).mean()) / shape.interocular(lm)
    return lab[lips].mean(0), teeth, gap


def lit_difference(side: Frame, plain: Frame, lm: np.ndarray) -> tuple[float, float]:
    """Of the lightness the side light changed in the output (``side`` minus
    ``plain``): the image-left cheek's mean minus the image-right one's, and the mean
    jump across the nose line from brows to chin (a seam)."""
    d = cv2.GaussianBlur(lightness(side) - lightness(plain), (0, 0), 1.0)
    iod = shape.interocular(lm.astype(np.float32))
    rows = slice(int(lm[29, 1]), int(lm[33, 1]))
    left = d[rows, int(lm[2, 0]) + 3 : int(lm[31, 0]) - 2].mean()
    right = d[rows, int(lm[35, 0]) + 2 : int(lm[14, 0]) - 3].mean()
    mid, k = int(round(float(lm[27:31, 0].mean()))), max(2, int(0.1 * iod))
    band = d[int(lm[21, 1] - 0.3 * iod) : int(lm[8, 1] - 4)]
    return float(left - right), float(np.abs(band[:, mid - k] - band[:, mid + k]).mean())


def test_the_selfie_mouth_neither_opens_nor_colours_a_closed_template_mouth(
    templates: dict[str, Template],
) -> None:
    """A laughing selfie (mouth wide open, teeth) with strongly coloured lips, onto a
    template whose mouth stays closed: the output's mouth is closed, shows no teeth,
    and has the template's lips, not the selfie's."""
    template = templates["plain"]
    image = selfie("painted")
    painted, teeth, gap = mouth_look(image)
    assert gap > 0.3 and teeth > 0.01
    frames = template.animation().frames
    out = swapped(template, image, ClassicOptions())
    for i, frame in enumerate(out):
        own, _, closed = mouth_look(frames[i])
        colour, teeth, gap = mouth_look(frame)
        assert gap < closed + 0.15 and teeth < 0.005, (i, gap, teeth)
        # chroma (a, b): the template's lips, not the paint
        to_template = float(np.linalg.norm(colour[1:] - own[1:]))
        assert to_template < 0.5 * float(np.linalg.norm(colour[1:] - painted[1:])), (i, colour)


def test_a_side_lit_selfie_does_not_bring_its_shadow_or_a_seam(
    templates: dict[str, Template],
) -> None:
    template = templates["plain"]
    # The same lips for both (the side-lit one reads as parted), so the difference
    # between the two outputs is the lighting alone.
    lips = ClassicOptions(template_lips="always")
    side = swapped(template, selfie("side"), lips)
    plain = swapped(template, selfie("plain"), lips)
    for i in range(FRAMES):
        left_right, seam = lit_difference(side[i], plain[i], landmarks(template, i))
        assert abs(left_right) < 4.0 and seam < 3.5, (i, left_right, seam)


def test_the_template_features_do_not_show_through_the_face(
    templates: dict[str, Template],
) -> None:
    """The same selfie onto the same clip with and without heavy dark make-up on the
    template's brows and eyes: what the make-up changes in the output must not look
    like the make-up (the template's lighting, yes; its features, no)."""
    plain, dark = templates["plain"], templates["dark"]
    out_plain = swapped(plain, selfie("plain"), ClassicOptions())
    out_dark = swapped(dark, selfie("plain"), ClassicOptions())
    frames_plain, frames_dark = plain.animation().frames, dark.animation().frames
    correlations = []
    for i in range(FRAMES):
        face = masks.hull_mask(out_plain[i].shape[:2], landmarks(plain, i)[:27])
        change = lightness(out_dark[i]) - lightness(out_plain[i])
        makeup = lightness(frames_dark[i]) - lightness(frames_plain[i])
        correlations.append(float(np.corrcoef(change[face], makeup[face])[0, 1]))
    assert float(np.median(correlations)) < 0.3, correlations


@pytest.mark.parametrize("kind", ["plain", "soft"])
def test_the_face_is_about_as_sharp_as_the_template(
    templates: dict[str, Template], kind: str
) -> None:
    """Fine detail (Laplacian energy) inside the face, output over template, for a
    crisp selfie and a blurred one on a sharp clip."""
    template = templates["sharp"]
    out = swapped(template, selfie(kind), ClassicOptions())
    ratios = []
    for i, frame in enumerate(template.animation().frames):
        lm = landmarks(template, i).astype(np.float32)
        ratios.append(detail.face_detail(out[i], lm) / detail.face_detail(frame, lm))
    assert 0.7 < float(np.median(ratios)) < 1.5, ratios


def test_the_template_lips_are_taken_only_where_the_selfie_mouth_is_open() -> None:
    """Closed lips are the selfie's own (identity); lips apart would bring teeth or a
    tongue onto the template's mouth (expression), so those come from the template."""
    engine = ClassicEngine(ClassicOptions())
    closed = engine.prepare_identity(build_identity([selfie("plain")], dlib_models()))
    opened = engine.prepare_identity(build_identity([selfie("open")], dlib_models()))
    assert not closed.mouth_open
    assert opened.mouth_open
