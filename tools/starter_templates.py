"""Regenerate the starter template library from public-domain faces.

    python -m tools.starter_templates --devkit ../shared/devkit [--dir templates_gifs]
        [--only ID ...] [--sheets /tmp/sheets]

Faces: three public-domain paintings from the devkit (s0 Sargent's "Lady Agnew of
Lochnaw", s9 Leonardo's "Mona Lisa", s10 Vermeer's "Girl with a Pearl Earring") and
scikit-image's ``astronaut`` (NASA photo of Eileen Collins, public domain). Each is
animated here (landmark edits + mesh warp, :mod:`server.gif_templates.puppet`) into a
short reaction clip, written as a GIF and imported with the same code as
``tools.templates add`` (analysis, preview, manifest). Deterministic: the same inputs
give the same GIF bytes. ``--sheets`` also writes PNG contact sheets to look at.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from server.faces.dlib_models import DlibFaceModels
from server.gif_templates.catalog import TemplateManifest
from server.gif_templates.library import import_template
from server.gif_templates.media import write_gif
from server.gif_templates.puppet import Expression, FacePuppet, HeadPose, camera
from server.settings import load_settings
from server.types import Animation, Frame

GIF_TOLERANCE = 5  # see write_gif: keeps each starter GIF well under 1.5 MB
CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)  # fixed: regenerating gives identical files
ANIMATION_CREDIT = "animated by the Faceloop project (tools/starter_templates.py)"
LICENSE = "Public domain (source image); animation CC0-1.0"
PAINTINGS = {
    "s0": 'John Singer Sargent, "Lady Agnew of Lochnaw" (1892), public-domain painting',
    "s9": 'Leonardo da Vinci, "Mona Lisa" (c. 1503-1519), public-domain painting',
    "s10": 'Johannes Vermeer, "Girl with a Pearl Earring" (c. 1665), public-domain painting',
}
ASTRONAUT = (
    "NASA photograph of astronaut Eileen Collins (scikit-image data.astronaut), "
    "public domain (work of the US federal government)"
)


@dataclass(frozen=True)
class Shot:
    """A still to animate: image, output size, and where the face should sit."""

    image: Frame
    size: tuple[int, int]  # output (w, h)
    face_width: float  # detector box width as a fraction of the output width
    face_x: float = 0.5
    face_y: float = 0.42
    soften: float = 0.5  # Gaussian sigma (px): tames scan grain that bloats GIFs


Timeline = Callable[[float], tuple[Expression, HeadPose, float]]  # t -> expr, head, zoom


@dataclass
class Scene:
    template_id: str
    title: str
    tags: list[str]
    source: str
    fps: float
    seconds: float
    panels: list[tuple[Shot, Timeline]]  # side by side, left to right


# -- curves ------------------------------------------------------------------------------
def keys(t: float, *points: tuple[float, float]) -> float:
    """Smoothstep interpolation through (time, value) points."""
    if t <= points[0][0]:
        return points[0][1]
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if t <= t1:
            x = (t - t0) / max(t1 - t0, 1e-9)
            return v0 + (v1 - v0) * x * x * (3 - 2 * x)
    return points[-1][1]


def talk(t: float, seed: int, rate: float = 3.6, loud: float = 0.8) -> float:
    """Mouth opening for speech: one bump per syllable, syllables of varying size."""
    phase = t * rate
    n = int(np.floor(phase))
    amp = np.random.default_rng(seed * 1000 + n).uniform(0.35, 1.0) * loud
    return float(amp * max(0.0, np.sin(np.pi * (phase - n))) ** 1.5)


def blink(t: float, at: Sequence[float], length: float = 0.25) -> float:
    """Eyes closed (1) around each time in ``at``, opening and closing quickly."""
    return max((min(1.0, max(0.0, 1.7 * (1 - abs(t - b) / (length / 2)))) for b in at), default=0)


# -- rendering ---------------------------------------------------------------------------
def place(shot: Shot, models: DlibFaceModels) -> FacePuppet:
    """Crop and scale the still so the face sits where the shot wants it."""
    face = models.detect(shot.image, use_cnn=False)[0].box
    w, h = shot.size
    scale = shot.face_width * w / face.width
    cx, cy = (face.left + face.right) / 2, (face.top + face.bottom) / 2
    m = np.array([[scale, 0.0, shot.face_x * w - cx * scale], [0.0, scale, 0.0]])
    m[1, 2] = shot.face_y * h - cy * scale
    ih, iw = shot.image.shape[:2]
    # keep the crop inside the image (no borders)
    m[0, 2] = min(0.0, max(m[0, 2], w - iw * scale))
    m[1, 2] = min(0.0, max(m[1, 2], h - ih * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    warped = cv2.warpAffine(shot.image, m, (w, h), flags=interp, borderMode=cv2.BORDER_REFLECT)
    still: Frame = np.ascontiguousarray(warped, np.uint8)
    found = models.detect(still, use_cnn=False)
    if not found:
        raise RuntimeError("face lost after cropping")
    if shot.soften > 0:
        still = np.asarray(cv2.GaussianBlur(still, (0, 0), shot.soften), np.uint8)
    return FacePuppet(still, found[0].landmarks)


def render(scene: Scene, models: DlibFaceModels) -> Animation:
    puppets = [(place(shot, models), timeline) for shot, timeline in scene.panels]
    n = int(round(scene.seconds * scene.fps))
    frames = []
    for i in range(n):
        t = i / scene.fps
        panels = []
        for puppet, timeline in puppets:
            expr, head, zoom = timeline(t)
            frame, face = puppet.render(expr, head)
            if zoom != 1.0:
                centre = face[27:48].mean(0)
                frame = camera(frame, zoom, (float(centre[0]), float(centre[1])))
            panels.append(frame)
        frames.append(np.ascontiguousarray(np.hstack(panels)))
    # GIF delays are whole centiseconds: spread the rounding over the clip.
    edges = np.round(np.arange(n + 1) * 100 / scene.fps).astype(int) * 10
    return Animation(frames, [int(d) for d in np.diff(edges)], 0)


def contact_sheet(anim: Animation, path: Path, columns: int = 8) -> None:
    frames = anim.frames
    blank = np.zeros_like(frames[0])
    rows = []
    for start in range(0, len(frames), columns):
        row = frames[start : start + columns]
        rows.append(np.hstack(row + [blank] * (columns - len(row))))
    cv2.imwrite(str(path), np.vstack(rows))


def build(
    scenes: Sequence[Scene], out_dir: Path, models: DlibFaceModels, sheets: Path | None
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for scene in scenes:
            anim = render(scene, models)
            gif = Path(tmp) / f"{scene.template_id}.gif"
            write_gif(anim, gif, tolerance=GIF_TOLERANCE)
            if sheets is not None:
                sheets.mkdir(parents=True, exist_ok=True)
                contact_sheet(anim, sheets / f"{scene.template_id}.png")
            manifest = TemplateManifest(
                id=scene.template_id,
                title=scene.title,
                tags=scene.tags,
                source=f"{scene.source}; {ANIMATION_CREDIT}",
                license=LICENSE,
                created_at=CREATED_AT,
            )
            result = import_template(gif, out_dir, manifest, models, force=True)
            analysis = result.template.analysis
            n = analysis.frame_count
            coverage = ", ".join(f"{int(t.present.sum())}/{n}" for t in analysis.tracks)
            print(
                f"{scene.template_id}: {n} frames {analysis.width}x{analysis.height}, "
                f"{gif.stat().st_size // 1024} KiB, faces present {coverage}, "
                f"analysis {analysis.stats.get('seconds', 0):.1f} s"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.starter_templates")
    parser.add_argument("--devkit", type=Path, required=True, help="folder with selfies/")
    parser.add_argument("--dir", type=Path, help="output library (default: settings)")
    parser.add_argument("--only", nargs="*", help="template ids to rebuild")
    parser.add_argument("--sheets", type=Path, help="write PNG contact sheets here")
    args = parser.parse_args(argv)
    stills: dict[str, Frame] = {}
    for name in PAINTINGS:
        image = cv2.imread(str(args.devkit / "selfies" / f"{name}.jpg"))
        if image is None:
            print(f"error: {args.devkit}/selfies/{name}.jpg not found", file=sys.stderr)
            return 2
        stills[name] = np.asarray(image, np.uint8)
    from skimage import data

    stills["astronaut"] = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    chosen = [s for s in scenes(stills) if not args.only or s.template_id in args.only]
    models = DlibFaceModels(cnn_fallback=False)
    build(chosen, args.dir or load_settings().templates_dir, models, args.sheets)
    return 0


# -- the scenes ----------------------------------------------------------------------------
def window(t: float, start: float, stop: float, ramp: float = 0.15) -> float:
    """1 inside [start, stop], easing to 0 over ``ramp`` seconds on each side."""
    return keys(t, (start - ramp, 0.0), (start, 1.0), (stop, 1.0), (stop + ramp, 0.0))


def mona_laugh(t: float) -> tuple[Expression, HeadPose, float]:
    laugh = window(t, 0.7, 2.5)
    ha = abs(np.sin(np.pi * 3.6 * (t - 0.7)))
    mouth = laugh * (0.3 + 0.55 * ha)
    smile = keys(t, (0, 0.15), (0.5, 0.85), (2.6, 0.85), (3.0, 0.15))
    head = HeadPose(angle=3.5 * laugh * np.sin(np.pi * 2.2 * (t - 0.7)), dy=-0.08 * laugh)
    squint = 0.3 * laugh + blink(t, [0.35])
    return Expression(mouth, smile, 0.25 * laugh, min(squint, 1.0)), head, 1.0


def pearl_chatter(t: float) -> tuple[Expression, HeadPose, float]:
    speaking = window(t, 0.25, 2.85)
    mouth = speaking * talk(t, seed=2, loud=0.75)
    brows = 0.7 * window(t, 1.25, 1.65, 0.2)
    nod = 0.05 * np.sin(2 * np.pi * 1.25 * t)
    head = HeadPose(angle=2.5 * np.sin(2 * np.pi * t / 3.2), dy=nod)
    expr = Expression(mouth, 0.2 + 0.2 * brows, brows, blink(t, [0.95, 2.55]))
    return expr, head, 1.0


def agnew_eyebrow(t: float) -> tuple[Expression, HeadPose, float]:
    raise_ = window(t, 0.75, 1.8, 0.3)
    head = HeadPose(angle=-5.0 * raise_)
    expr = Expression(0.0, 0.5 * raise_, 0.9 * raise_, blink(t, [0.3]))
    return expr, head, 1.0 + 0.1 * raise_


def astronaut_nod(t: float) -> tuple[Expression, HeadPose, float]:
    nod = np.sin(2 * np.pi * 1.2 * t)
    head = HeadPose(angle=1.0 * nod, dy=0.1 * nod, scale=1.0 - 0.01 * nod)
    expr = Expression(0.0, 0.45 + 0.25 * max(0.0, nod), 0.15, blink(t, [1.3]))
    return expr, head, 1.0


def astronaut_shock(t: float) -> tuple[Expression, HeadPose, float]:
    shock = keys(t, (0.45, 0.0), (0.6, 1.0), (1.55, 1.0), (1.95, 0.0))
    shake = 2.5 * shock * np.sin(2 * np.pi * 7 * t) * keys(t, (0.55, 1.0), (0.9, 0.0))
    expr = Expression(0.85 * shock, -0.35 * shock, 1.0 * shock, blink(t, [0.3]))
    return expr, HeadPose(angle=shake, dy=-0.05 * shock), 1.0 + 0.28 * shock


def duet_mona(t: float) -> tuple[Expression, HeadPose, float]:
    speaking = window(t, 0.2, 1.45)
    mouth = speaking * talk(t, seed=5, loud=0.6)
    listen = window(t, 1.75, 3.1)
    head = HeadPose(
        angle=2.0 * np.sin(2 * np.pi * t / 3.3), dy=0.05 * listen * np.sin(2 * np.pi * 1.6 * t)
    )
    return Expression(mouth, 0.3 + 0.4 * listen, 0.0, blink(t, [1.6])), head, 1.0


def duet_pearl(t: float) -> tuple[Expression, HeadPose, float]:
    speaking = window(t, 1.75, 3.1)
    mouth = speaking * talk(t, seed=9, loud=0.65)
    listen = window(t, 0.2, 1.45)
    head = HeadPose(
        angle=-2.0 * np.sin(2 * np.pi * t / 3.3), dy=0.05 * listen * np.sin(2 * np.pi * 1.6 * t)
    )
    brows = 0.5 * window(t, 2.2, 2.5, 0.15)
    return Expression(mouth, 0.25 + 0.3 * listen, brows, blink(t, [0.8, 2.9])), head, 1.0


def mona_wink(t: float) -> tuple[Expression, HeadPose, float]:
    wink = window(t, 0.9, 1.15, 0.12)
    smile = keys(t, (0, 0.1), (0.6, 0.9), (1.6, 0.9), (2.0, 0.1))
    head = HeadPose(angle=-4.0 * smile)
    return Expression(0.0, smile, 0.2 * smile, 0.0, wink), head, 1.0


def scenes(stills: dict[str, Frame]) -> list[Scene]:
    mona, pearl, agnew, astro = stills["s9"], stills["s10"], stills["s0"], stills["astronaut"]
    return [
        Scene("mona-lisa-laugh", "Mona Lisa laughs", ["laugh", "painting"], PAINTINGS["s9"],
              12, 3.0, [(Shot(mona, (304, 380), 0.42, soften=0.6), mona_laugh)]),
        Scene("mona-lisa-wink", "Mona Lisa winks", ["wink", "smile", "painting"], PAINTINGS["s9"],
              12, 2.0, [(Shot(mona, (320, 400), 0.42), mona_wink)]),
        Scene("pearl-earring-chatter", "Girl with a Pearl Earring chats", ["talk", "painting"],
              PAINTINGS["s10"], 15, 3.2, [(Shot(pearl, (360, 360), 0.45), pearl_chatter)]),
        Scene("lady-agnew-eyebrow", "Lady Agnew raises her eyebrows", ["eyebrows", "painting"],
              PAINTINGS["s0"], 12, 2.5, [(Shot(agnew, (320, 360), 0.36), agnew_eyebrow)]),
        Scene("astronaut-nod", "Astronaut nods yes", ["yes", "nod", "photo"], ASTRONAUT,
              12, 2.5, [(Shot(astro, (340, 340), 0.36), astronaut_nod)]),
        Scene("astronaut-shock", "Astronaut: what?!", ["surprise", "zoom", "photo"], ASTRONAUT,
              15, 2.0, [(Shot(astro, (360, 360), 0.36), astronaut_shock)]),
        Scene("duet-mona-pearl", "Mona Lisa and the Pearl Earring girl talk",
              ["duet", "talk", "painting"], f"{PAINTINGS['s9']}; {PAINTINGS['s10']}", 12, 3.3,
              [(Shot(mona, (200, 250), 0.5), duet_mona),
               (Shot(pearl, (200, 250), 0.55), duet_pearl)]),
    ]  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
