"""Hard selfies for judging the engine: each made from a plain selfie by one change
(an expression, a head turn, drawn glasses, lighting, blur, greyscale), written as PNGs.

    python -m tools.hard_set --selfies ../shared/devkit/selfies --out /tmp/hard-selfies
    python -m tools.quality --selfies /tmp/hard-selfies --templates d0 d3 d9 d12 s18 \\
        --dir /tmp/devlib --sheets /tmp/sheets/hard

Every recipe names the selfie it starts from (a file stem of ``--selfies``, or
``astronaut``: scikit-image's public-domain NASA photo, always available); a recipe
whose selfie is not given starts from the astronaut. Each change is a function of the
image and its 68 landmarks, so tests can apply it to package faces.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from server.faces.dlib_models import DlibFaceModels
from server.gif_templates.puppet import Expression, FacePuppet, HeadPose
from server.types import Box, Frame
from server.vision import pose, shape
from server.vision.warp import triangulate, warp_mesh

Points = NDArray[np.floating]
Change = Callable[[Frame, Points], Frame]


def expression(expr: Expression) -> Change:
    """The face posed with ``expr`` (an opened mouth gets painted teeth)."""

    def change(image: Frame, lm: Points) -> Frame:
        frame, _ = FacePuppet(image, np.asarray(lm, np.float32)).render(expr, HeadPose())
        return frame

    return change


def turned_points(lm: Points, degrees: float) -> NDArray[np.float64]:
    """The 68 points with the head turned a further ``degrees`` about its vertical axis
    (the mean face's turn, fitted to the points, added to them). The jaw points are
    taken as deep as the outer eye corners: on a turned face dlib's jaw follows the
    visible silhouette (the cheek), not the jaw bone behind it."""
    p = pose.fit(lm)
    t = np.radians(degrees)
    ry = np.array([[np.cos(t), 0.0, np.sin(t)], [0.0, 1.0, 0.0], [-np.sin(t), 0.0, np.cos(t)]])
    model = pose.mean_face().copy()
    model[:17, 2] = np.maximum(model[:17, 2], model[[36, 45], 2].min())
    move = p.scale * model @ (p.rotation @ ry - p.rotation).T
    return np.asarray(lm, np.float64) + move


def turn(degrees: float) -> Change:
    """The head turned by a mesh warp: face points moved as a turned 3D face's would,
    a ring around the head and the image border held still."""

    def change(image: Frame, lm: Points) -> Frame:
        src = np.asarray(lm, np.float64)
        dst = turned_points(src, degrees)
        centre, radius = src.mean(0), 1.6 * shape.face_height(np.asarray(lm, np.float32))
        a = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        ring = centre + radius * np.stack([np.cos(a), np.sin(a)], 1)
        h, w = image.shape[:2]
        border = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64)
        top_src = shape.forehead_points(np.asarray(src, np.float32))
        top_dst = shape.forehead_points(np.asarray(dst, np.float32))
        s = np.concatenate([src, top_src, ring, border])
        d = np.concatenate([dst, top_dst, ring, border])
        out, covered = warp_mesh(image, s, d, triangulate(d), Box(0, 0, w, h))
        return np.where(covered[..., None], out, image).astype(np.uint8)

    return change


def glasses(image: Frame, lm: Points) -> Frame:
    """Dark round rims around both eyes, a bridge and arms towards the ears."""
    out = image.copy()
    p = np.asarray(lm, np.float64)
    iod = shape.interocular(np.asarray(lm, np.float32))
    a, b = shape.eye_centres(np.asarray(lm, np.float32))
    angle = float(np.degrees(np.arctan2(b[1] - a[1], b[0] - a[0])))
    axes = (int(0.42 * iod), int(0.3 * iod))
    width = max(2, int(round(0.05 * iod)))
    ink = (25, 25, 30)
    for c in (a, b):
        cv2.ellipse(out, (int(c[0]), int(c[1])), axes, angle, 0, 360, ink, width, cv2.LINE_AA)
    u = (b - a) / max(float(np.linalg.norm(b - a)), 1e-6)
    ends = [a + u * 0.42 * iod, b - u * 0.42 * iod, a - u * 0.42 * iod, p[0], b + u * 0.42 * iod]
    pairs = [(0, 1), (2, 3)]
    for i, j in pairs:
        cv2.line(out, _pt(ends[i]), _pt(ends[j]), ink, width, cv2.LINE_AA)
    cv2.line(out, _pt(ends[4]), _pt(p[16]), ink, width, cv2.LINE_AA)
    return out


def side_light(image: Frame, lm: Points) -> Frame:
    """Hard light from the image's right: the left half of the face darkened to 0.3 by
    a smooth ramp across the nose."""
    p = np.asarray(lm, np.float64)
    iod = shape.interocular(np.asarray(lm, np.float32))
    x = np.arange(image.shape[1], dtype=np.float64)
    t = np.clip((x - p[30, 0]) / (0.8 * iod) + 0.5, 0.0, 1.0)
    gain = 0.3 + 0.7 * t * t * (3 - 2 * t)
    return np.clip(image * gain[None, :, None], 0, 255).astype(np.uint8)


def underexposed(image: Frame, lm: Points) -> Frame:
    """A dark, noisy photo: exposure cut to about a third, sensor noise added."""
    dark = 255.0 * (image / 255.0) ** 1.4 * 0.35
    noise = np.random.default_rng(0).normal(0.0, 2.5, image.shape)
    return np.clip(dark + noise, 0, 255).astype(np.uint8)


def blurred(image: Frame, lm: Points) -> Frame:
    """Out of focus: a Gaussian blur of a twentieth of the inter-ocular distance."""
    sigma = 0.05 * shape.interocular(np.asarray(lm, np.float32))
    return np.asarray(cv2.GaussianBlur(image, (0, 0), sigma), np.uint8)


def greyscale(image: Frame, lm: Points) -> Frame:
    return np.asarray(cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR))


def _pt(p: NDArray[np.float64]) -> tuple[int, int]:
    return (int(round(p[0])), int(round(p[1])))


# name: (selfie it starts from, change)
RECIPES: dict[str, tuple[str, Change]] = {
    "teeth": ("s42", expression(Expression(mouth_open=1.0, smile=0.3))),
    "smile": ("s12", expression(Expression(mouth_open=0.25, smile=1.0))),
    "closed_eyes": ("s0", expression(Expression(blink=1.0))),
    "turned": ("s42", turn(35.0)),  # fits as about 18 degrees (frontality 0.37)
    "glasses": ("s12", glasses),
    "side_light": ("s9", side_light),
    "dark": ("s10", underexposed),
    "blurred": ("s42", blurred),
    "grey": ("astronaut", greyscale),
}


def make(selfies: dict[str, Frame], models: DlibFaceModels) -> dict[str, Frame]:
    """Every recipe applied to its selfie; keys are ``{recipe}_{selfie}``."""
    out = {}
    for name, (base, change) in RECIPES.items():
        key = base if base in selfies else "astronaut"
        image = selfies[key] if key in selfies else _astronaut()
        faces = models.detect(image, max_side=1280)
        if not faces:
            raise ValueError(f"no face in {key}")
        out[f"{name}_{key}"] = change(image, faces[0].landmarks)
    return out


def _astronaut() -> Frame:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m tools.hard_set", description=__doc__)
    p.add_argument("--selfies", nargs="*", type=Path, default=[], help="image files or folders")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    files = [f for s in args.selfies for f in (sorted(s.iterdir()) if s.is_dir() else [s])]
    selfies = {f.stem: cv2.imread(str(f)) for f in files}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, image in make(selfies, DlibFaceModels()).items():
        cv2.imwrite(str(args.out / f"{name}.png"), image)
        print(args.out / f"{name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
