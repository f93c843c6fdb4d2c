"""Hard selfies made from good ones: the problems selfie coaching looks for, drawn or
posed onto a face whose 68 landmarks are known (open mouth, closed eyes, raised brows
and tilted head with the puppet; turned head by foreshortening one side; glasses, a
hand, hair and a face mask drawn on; blur, darkness, over-exposure, side light and a
small face by filtering). Each variant returns a new BGR uint8 image.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from server.gif_templates.puppet import Expression, FacePuppet, HeadPose
from server.types import Box, Frame, Landmarks68
from server.vision import pose, shape
from server.vision.warp import triangulate, warp_mesh

Variant = Callable[[Frame, Landmarks68], Frame]


def _u8(image: np.ndarray) -> Frame:
    return np.ascontiguousarray(np.clip(image, 0, 255).astype(np.uint8))


def posed(expr: Expression, head: HeadPose | None = None) -> Variant:
    """The face with ``expr`` (and ``head``) applied by the puppet."""

    def make(image: Frame, lm: Landmarks68) -> Frame:
        frame, _ = FacePuppet(image, lm).render(expr, head or HeadPose())
        return _u8(frame)

    return make


def eyes_closed(image: Frame, lm: Landmarks68) -> Frame:
    """Both eyes closed by the puppet's blink, one eye at a time: the picture is
    mirrored for the second, so each is closed as the image-left eye."""
    first, pts = FacePuppet(image, lm).render(Expression(blink=1.0), HeadPose())
    w = image.shape[1]
    flipped = np.ascontiguousarray(first[:, ::-1])
    mirrored = np.asarray(pts, np.float64)[shape.MIRROR] * (-1.0, 1.0) + (w - 1, 0.0)
    second, _ = FacePuppet(flipped, mirrored.astype(np.float32)).render(
        Expression(wink=1.0), HeadPose()
    )
    return _u8(second[:, ::-1])


def tilted(degrees: float) -> Variant:
    """The head rolled by the puppet until the eye line leans ``degrees``."""

    def make(image: Frame, lm: Landmarks68) -> Frame:
        a, b = shape.eye_centres(lm)
        roll = float(np.degrees(np.arctan2(b[1] - a[1], b[0] - a[0])))
        frame, _ = FacePuppet(image, lm).render(Expression(), HeadPose(angle=degrees - roll))
        return _u8(frame)

    return make


def turned(degrees: float) -> Variant:
    """The head turned by ``degrees`` (yaw, towards image right): the 3D mean face is
    fitted to the landmarks, turned, and the picture is mesh-warped so each landmark
    moves as the turned mean face's does; a ring around the head follows its mean
    shift and the picture's border stays put."""

    def make(image: Frame, lm: Landmarks68) -> Frame:
        fitted = pose.fit(lm)
        r = fitted.rotation
        full = np.vstack([r, np.cross(r[0], r[1])])
        t = np.radians(degrees)
        yaw = np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])
        turned_pose = pose.Pose((full @ yaw)[:2], fitted.scale, fitted.shift)
        model = pose.mean_face()
        src_face = np.asarray(lm, np.float64)
        dst_face = src_face + turned_pose.project(model) - fitted.project(model)
        iod = shape.interocular(lm)
        centre = src_face[:27].mean(0)
        ring = centre + _circle(16) * np.array([1.6, 2.0]) * iod
        outer = centre + _circle(16) * np.array([3.0, 3.2]) * iod
        h, w = image.shape[:2]
        corners = [[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]
        middles = [[w / 2, 0], [w - 1, h / 2], [w / 2, h - 1], [0, h / 2]]
        border = np.array(corners + middles, np.float64)
        shift = (dst_face[:27] - src_face[:27]).mean(0) * 0.6
        src = np.concatenate([src_face, ring, outer, border])
        dst = np.concatenate([dst_face, ring + shift, outer, border])
        warped, _ = warp_mesh(image, src, dst, triangulate(src), Box(0, 0, w, h))
        return _u8(warped)

    return make


def _circle(n: int) -> NDArray[np.float64]:
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([np.cos(angles), np.sin(angles)], 1)


def glasses(image: Frame, lm: Landmarks68) -> Frame:
    """Dark rectangular frames with a bridge and temples, lenses faintly tinted."""
    out = image.copy()
    iod = shape.interocular(lm)
    a, b = shape.eye_centres(lm)
    axes = (int(0.36 * iod), int(0.24 * iod))
    thick = max(2, int(round(0.06 * iod)))
    angle = float(np.degrees(np.arctan2(b[1] - a[1], b[0] - a[0])))
    lens = np.zeros(image.shape[:2], np.uint8)
    for c in (a, b):
        centre = (int(c[0]), int(c[1] + 0.05 * iod))
        cv2.ellipse(lens, centre, axes, angle, 0, 360, 1, -1)
    tint = out.astype(np.float32)
    tint[lens > 0] *= 0.85
    out = _u8(tint)
    for c in (a, b):
        centre = (int(c[0]), int(c[1] + 0.05 * iod))
        cv2.ellipse(out, centre, axes, angle, 0, 360, (25, 25, 30), thick, cv2.LINE_AA)
    inner_a = a + (b - a) * (0.36 * iod / np.linalg.norm(b - a))
    inner_b = b - (b - a) * (0.36 * iod / np.linalg.norm(b - a))
    cv2.line(out, _pt(inner_a), _pt(inner_b), (25, 25, 30), thick, cv2.LINE_AA)
    for c, side in ((a, lm[0]), (b, lm[16])):
        cv2.line(out, _pt(c + (c - (a + b) / 2) * 0.9), _pt(side), (25, 25, 30), thick)
    return out


def _pt(p: NDArray[np.floating]) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def hand(image: Frame, lm: Landmarks68) -> Frame:
    """A hand over the image-left cheek and the mouth's corner: a palm and four
    fingers in a tone of the face's own skin, shaded, with dark creases between."""
    out = image.astype(np.float32)
    iod = shape.interocular(lm)
    skin = np.median(image[_cheek_box(image, lm)].reshape(-1, 3), 0).astype(np.float32)
    tone = skin * 0.82 + np.array([4.0, 10.0, 22.0], np.float32)  # a warmer, darker hand
    mask = np.zeros(image.shape[:2], np.uint8)
    palm = lm[3] + (lm[48] - lm[3]) * 0.2
    cv2.ellipse(mask, _pt(palm), (int(0.55 * iod), int(0.75 * iod)), 15, 0, 360, 1, -1)
    tips = []
    for k in range(4):
        tip = palm + np.array([0.25 + 0.22 * k, -0.9 + 0.12 * k]) * iod
        cv2.line(mask, _pt(palm), _pt(tip), 1, int(0.2 * iod))
        tips.append(tip)
    yy = np.linspace(1.0, 0.8, image.shape[0], dtype=np.float32)[:, None, None]
    out = np.where(mask[..., None] > 0, tone * yy, out)
    for k in range(3):
        mid = (tips[k] + tips[k + 1]) / 2
        cv2.line(out, _pt(palm + (mid - palm) * 0.5), _pt(mid), tuple(map(float, tone * 0.5)), 2)
    return _u8(out)


def _cheek_box(image: Frame, lm: Landmarks68) -> tuple[slice, slice]:
    """Box between jaw point 1, the nose's side (31) and jaw point 3 (the image-left
    cheek; pass mirrored landmarks for the other)."""
    x0, y0 = lm[[1, 31]].min(0).astype(int)
    x1, y1 = lm[[31, 3]].max(0).astype(int)
    return slice(max(y0, 0), max(y1, y0 + 1)), slice(max(x0, 0), max(x1, x0 + 1))


def hair(image: Frame, lm: Landmarks68) -> Frame:
    """Dark strands falling over the forehead and the image-left eye."""
    out = image.copy()
    iod = shape.interocular(lm)
    rng = np.random.default_rng(7)
    top = lm[19] - np.array([0.4, 1.0]) * iod
    for _ in range(60):
        start = top + rng.normal(0, 0.25, 2) * iod
        end = lm[36] + np.array([rng.uniform(-0.4, 0.5), rng.uniform(0.0, 0.5)]) * iod
        colour = tuple(float(c) for c in rng.uniform(20, 45, 3))
        cv2.line(out, _pt(start), _pt(end), colour, max(1, int(0.05 * iod)), cv2.LINE_AA)
    return out


def face_mask(texture: Frame) -> Variant:
    """A surgical mask (``texture``: a photo of one) over the nose and everything below."""

    def make(image: Frame, lm: Landmarks68) -> Frame:
        outline = np.concatenate([lm[1:16], [lm[28] + (lm[15] - lm[28]) * 0.5, lm[28]],
                                  [lm[28] + (lm[1] - lm[28]) * 0.5]])  # fmt: skip
        x0, y0 = outline.min(0)
        x1, y1 = outline.max(0)
        src = np.array([[0, 0], [texture.shape[1], 0], [0, texture.shape[0]]], np.float32)
        dst = np.array([[x0, y0], [x1, y0], [x0, y1]], np.float32)
        h, w = image.shape[:2]
        warped = cv2.warpAffine(texture, cv2.getAffineTransform(src, dst), (w, h))
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 1)
        return _u8(np.where(mask[..., None] > 0, warped, image))

    return make


def blur(image: Frame, lm: Landmarks68) -> Frame:
    """Gaussian blur of a twentieth of the inter-ocular distance (4 px at 80 px)."""
    return _u8(cv2.GaussianBlur(image, (0, 0), shape.interocular(lm) / 20.0))


def dark(image: Frame, lm: Landmarks68) -> Frame:
    return _u8(image.astype(np.float32) * 0.22)


def overexposed(image: Frame, lm: Landmarks68) -> Frame:
    return _u8(image.astype(np.float32) * 1.8 + 70.0)


def side_light(image: Frame, lm: Landmarks68) -> Frame:
    """Light from one side: lightness falls from 1.15x to 0.25x across the face,
    towards the side that is already the darker one."""
    x = np.arange(image.shape[1], dtype=np.float32)
    x0, x1 = float(lm[0, 0]), float(lm[16, 0])
    grey = image.mean(2)
    left = float(np.median(grey[_cheek_box(image, lm)]))
    right_box = _cheek_box(image, lm[[*range(16, -1, -1), *range(17, 31), 35, 34, 33, 32, 31]])
    if float(np.median(grey[right_box])) >= left:  # darken the darker side further
        x0, x1 = x1, x0
    span = x1 - x0 if abs(x1 - x0) > 1 else 1.0
    t = np.clip((x - x0) / span, 0.0, 1.0)
    gain = 1.15 - 0.9 * t
    return _u8(image.astype(np.float32) * gain[None, :, None])


def scaled_to(iod: float) -> Variant:
    """The whole picture shrunk so the eyes are ``iod`` px apart."""

    def make(image: Frame, lm: Landmarks68) -> Frame:
        k = min(1.0, iod / shape.interocular(lm))
        return _u8(cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA))

    return make


def mask_textures() -> dict[str, Frame]:
    """The face-mask photos insightface ships (``data/images/mask_*.jpg``)."""
    import insightface

    folder = Path(insightface.__file__).parent / "data" / "images"
    out = {}
    for path in sorted(folder.glob("mask_*.jpg")):
        image = cv2.imread(str(path))
        if image is not None:
            out[path.stem] = np.ascontiguousarray(image, np.uint8)
    return out


# name -> (variant, labels it adds: the problems it shows, "unusable" if it cannot
# serve as a texture at all).
VARIANTS: dict[str, tuple[Variant, frozenset[str]]] = {
    "mouth_open": (posed(Expression(mouth_open=1.0)), frozenset({"mouth_open", "teeth_showing"})),
    "eyes_closed": (eyes_closed, frozenset({"eyes_closed"})),
    "brows_raised": (posed(Expression(brows=1.0)), frozenset()),
    "smile": (posed(Expression(smile=0.8)), frozenset()),
    "tilted": (tilted(32.0), frozenset({"head_tilted"})),
    "turned": (turned(30.0), frozenset({"head_turned"})),
    "turned_far": (turned(60.0), frozenset({"head_turned", "unusable"})),
    "glasses": (glasses, frozenset({"glasses"})),
    "hand": (hand, frozenset({"face_covered"})),
    "hair": (hair, frozenset({"face_covered"})),
    "blur": (blur, frozenset({"blurry"})),
    "dark": (dark, frozenset({"too_dark"})),
    "overexposed": (overexposed, frozenset({"overexposed"})),
    "side_light": (side_light, frozenset({"side_light"})),
    "small": (scaled_to(32.0), frozenset({"face_small"})),
    "tiny": (scaled_to(18.0), frozenset({"face_small", "unusable"})),
}


def with_masks() -> dict[str, tuple[Variant, frozenset[str]]]:
    """VARIANTS plus one face-mask variant per mask photo (nose and mouth covered)."""
    out = dict(VARIANTS)
    for name, texture in mask_textures().items():
        out[name] = (face_mask(texture), frozenset({"face_covered", "unusable"}))
    return out
