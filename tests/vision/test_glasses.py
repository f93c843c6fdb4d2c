"""Spectacles on package faces: drawn frames are found (and only on faces that wear
them), and painted out of a selfie."""

from __future__ import annotations

import numpy as np
import pytest

from server.types import Box, Frame
from server.vision import glasses, glasses_removal, masks
from tests.render.samples import astronaut, dlib_models, t1_face
from tests.vision.spectacles import draw_glasses

DARK = (30, 28, 26)  # black plastic
LIGHT = (200, 205, 210)  # metal or clear frames, about as light as the skin


def face(name: str) -> Frame:
    return astronaut() if name == "astronaut" else t1_face(name)


def landmarks(image: Frame) -> np.ndarray:
    return dlib_models().detect(image, use_cnn=False)[0].landmarks


def in_frame(image: Frame, lm: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return glasses.mask_in_box(glasses.glasses_mask(image, lm), lm, Box(0, 0, w, h))


@pytest.mark.parametrize("name", ["astronaut", "jennifer", "david"])
@pytest.mark.parametrize("colour", [DARK, LIGHT], ids=["dark", "light"])
def test_drawn_frames_are_found(name: str, colour: tuple[int, int, int]) -> None:
    worn, drawn = draw_glasses(face(name), landmarks(face(name)), colour)
    lm = landmarks(worn)
    assert glasses.glasses_evidence(worn, lm) >= glasses.EVIDENCE_AT
    found = in_frame(worn, lm) > 0.5
    iou = (found & drawn).sum() / (found | drawn).sum()
    recall = (found & drawn).sum() / drawn.sum()
    print(f"{name} {colour}: IoU {iou:.2f}, recall {recall:.2f}")
    assert iou > 0.5 and recall > 0.65


@pytest.mark.parametrize("name", ["astronaut", "jennifer", "david"])
def test_a_face_without_glasses_gets_no_mask(name: str) -> None:
    image = face(name)
    lm = landmarks(image)
    assert glasses.glasses_evidence(image, lm) < glasses.EVIDENCE_AT / 2
    assert not glasses.glasses_mask(image, lm).any()
    assert glasses_removal.remove_glasses(image, lm) is image


@pytest.mark.parametrize("name", ["astronaut", "david"])
def test_frames_are_painted_out_of_a_selfie(name: str) -> None:
    bare = face(name)
    worn, drawn = draw_glasses(bare, landmarks(bare), DARK)
    cleaned = glasses_removal.remove_glasses(worn, landmarks(worn))
    drawn &= masks.hull_mask(bare.shape[:2], landmarks(bare)[:27])  # what a swap takes

    def error(image: Frame) -> float:
        return float(np.abs(image[drawn].astype(np.float32) - bare[drawn]).mean())

    print(f"{name}: frame pixels off the bare face by {error(worn):.1f} -> {error(cleaned):.1f}")
    # Painted from the skin, brows and lids around them: not the bare face, but close.
    assert error(cleaned) < 0.2 * error(worn)
    assert error(cleaned) < 30


@pytest.mark.parametrize("name", ["astronaut", "david"])
def test_thick_frames_leave_no_dark_ring(name: str) -> None:
    """Heavy frames (a tenth of the eye distance wide, about the line finder's
    reach) are painted out whole: no dark ring of the rims' edges is left."""
    bare = face(name)
    worn, drawn = draw_glasses(bare, landmarks(bare), DARK, thickness=0.1)
    cleaned = glasses_removal.remove_glasses(worn, landmarks(worn))
    drawn &= masks.hull_mask(bare.shape[:2], landmarks(bare)[:27])

    def dark_left(image: Frame) -> float:
        """Share of the drawn rims' pixels still much darker than the bare face."""
        lost = bare[drawn].astype(np.float32).mean(1) - image[drawn].astype(np.float32).mean(1)
        return float((lost > 40).mean())

    print(f"{name}: rim pixels still dark {dark_left(worn):.2f} -> {dark_left(cleaned):.2f}")
    assert dark_left(cleaned) < 0.15
