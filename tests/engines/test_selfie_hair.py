"""The selfie's hair beside its cheek never reaches the output: dlib's outline often
runs over hair that falls beside a (turned) cheek, and pasted in, even faded by the
mask's feather, dark hair mixed into a lit template cheek reads as a grey arc."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from server.engines.classic import ClassicEngine
from server.engines.classic_texture import ClassicFace, bleed_skin, paint_out_hair
from server.engines.classic_track import match_detail
from server.faces.identity import build_identity
from server.types import Frame
from server.vision import color, masks, shape
from tests.engines.test_classic_look import selfie
from tests.render.samples import dlib_models

HAIR = (25, 40, 70)  # dark brown, BGR


def with_hair_beside_cheek(image: Frame) -> Frame:
    """``image`` with a band of dark hair along the image-left outline, from the temple
    to the mouth's height, lying a little over the cheek and mostly beyond it."""
    lm = dlib_models().detect(image, use_cnn=False)[0].landmarks.astype(np.float64)
    iod = shape.interocular(lm.astype(np.float32))
    outward = np.array([0.0, 0.0])
    path = np.round(lm[0:4] + outward).astype(np.int32)
    out = image.copy()
    cv2.polylines(out, [path], False, HAIR, int(round(0.4 * iod)))
    return out


def hair_weight(face: ClassicFace) -> float:
    """The face mask's weight on texture pixels of the hair's colour, summed (px)."""
    bgr = color.lab_to_bgr(face.texture_lab)
    near = np.linalg.norm(bgr - np.array(HAIR, np.float32), axis=2) < 25
    return float(face.alpha[near].sum())


def test_hair_over_the_selfie_cheek_carries_no_weight_in_the_face() -> None:
    image = with_hair_beside_cheek(selfie("plain"))
    identity = build_identity([image], dlib_models())
    raw = np.linalg.norm(identity.texture - np.array(HAIR), axis=2) < 25
    face = bleed_skin(ClassicEngine().prepare_identity(identity))
    weight = hair_weight(face)
    print(f"hair px in the texture {raw.sum()}, their weight in the face mask {weight:.1f}")
    assert raw.sum() > 300
    assert weight < 0.005 * raw.sum()


def test_a_beard_joined_to_the_hair_keeps_its_moustache() -> None:
    """Hair reaching the moustache along the cheek: the cheek's strand is painted out,
    the moustache, the face's own, stays."""
    identity = build_identity([selfie("plain")], dlib_models())
    tex, lm = identity.texture.copy(), identity.landmarks
    iod = shape.interocular(lm)
    lip = (lm[33] + lm[51]) / 2  # between the nose and the upper lip
    path = np.array([lm[1] + [-0.3 * iod, 0.0], lm[3], lip, lm[35] + [0.2 * iod, 0.3 * iod]])
    cv2.polylines(tex, [np.round(path).astype(np.int32)], False, HAIR, int(0.15 * iod))
    drawn = np.all(tex == np.array(HAIR, np.uint8), axis=2)
    painted, _, _ = paint_out_hair(tex, lm)
    changed = np.abs(painted.astype(np.int16) - tex).sum(axis=2) > 30
    zone = masks.hull_mask(tex.shape[:2], np.concatenate([lm[31:36], lm[48:60]]))
    cheek = drawn & masks.hull_mask(tex.shape[:2], lm[0:27]) & ~zone
    cheek[int(lm[48, 1]) :] = False  # hair is looked for down to the mouth corners ...
    cheek[:, int(lm[3, 0] + 0.2 * iod) :] = False  # ... and away from the nose
    moustache = drawn & zone
    shares = changed[cheek].mean(), changed[moustache].mean()
    print("painted: cheek strand {:.2f}, moustache {:.2f}".format(*shares))
    assert cheek.sum() > 50 and moustache.sum() > 50
    assert changed[cheek].mean() > 0.8
    assert changed[moustache].mean() < 0.05


def test_a_soft_selfie_is_not_sharpened_along_its_painted_out_hair() -> None:
    """A blurred selfie is sharpened to the template's detail, but not where its hair
    was painted out: there sharpening brings up only the fill's border against what is
    left of the blurred strand, a thin dark line down the cheek. Its eyes still are."""
    hairy = with_hair_beside_cheek(selfie("plain"))
    soft = np.ascontiguousarray(cv2.GaussianBlur(hairy, (0, 0), 3.0), np.uint8)
    face = ClassicEngine().prepare_identity(build_identity([soft], dlib_models()))
    assert face.filled is not None and face.filled.sum() > 100
    iod = shape.interocular(face.points[:68])
    sharp_clip = np.array([1e6])  # a template far sharper than the selfie
    fixed, _ = match_detail(face, sharp_clip, [0], iod, 1.0)
    everywhere, _ = match_detail(replace(face, filled=None), sharp_clip, [0], iod, 1.0)
    filled = (face.filled > 0.5).astype(np.uint8)
    kernel = np.ones((7, 7), np.uint8)
    border = cv2.dilate(filled, kernel) > cv2.erode(filled, kernel)
    eyes = masks.hull_mask(filled.shape, face.points[36:48]).astype(bool)

    def change(out: ClassicFace, where: np.ndarray) -> float:
        return float(np.abs(out.texture_lab[..., 0] - face.texture_lab[..., 0])[where].mean())

    print(
        f"L change at the fill's border {change(fixed, border):.2f} "
        f"(sharpened everywhere {change(everywhere, border):.2f}), "
        f"eyes {change(fixed, eyes):.2f}"
    )
    assert change(everywhere, border) > 1.0
    assert change(fixed, border) < 0.2 * change(everywhere, border)
    assert change(fixed, eyes) > 0.8 * change(everywhere, eyes)


@pytest.mark.parametrize("blur", [2.0, 3.0])
def test_no_dark_rim_is_left_between_the_cheek_and_the_painted_hair(blur: float) -> None:
    """A soft strand's edge is lighter than the hair threshold and darker than skin:
    left in place it was a thin dark line between the cheek and the fill. Measured,
    the skin just outside the painted pixels over the cheeks' median lightness: 0.88
    and 0.85 before the edge was painted with the hair, 0.95 after."""
    image = with_hair_beside_cheek(selfie("plain"))
    image = np.ascontiguousarray(cv2.GaussianBlur(image, (0, 0), blur), np.uint8)
    identity = build_identity([image], dlib_models())
    tex, lm = identity.texture, identity.landmarks
    painted, _, holes = paint_out_hair(tex, lm)
    light = cv2.cvtColor(painted, cv2.COLOR_BGR2Lab)[:, :, 0].astype(np.float32)
    inside = masks.hull_mask(tex.shape[:2], lm[0:27]).astype(bool)
    inside[: int(lm[17:27, 1].min())] = False
    filled = (holes > 0.5).astype(np.uint8)
    ring = (cv2.dilate(filled, np.ones((5, 5), np.uint8)) > 0) & (filled == 0) & inside
    cheeks = float(np.median(light[masks.skin_mask(tex.shape[:2], lm)]))
    print(f"ring {ring.sum()} px at {light[ring].mean() / cheeks:.3f} of the cheeks' lightness")
    assert ring.sum() > 100
    assert light[ring].mean() > 0.93 * cheeks
