"""The classic engine's face meets the template's skin along its outline: where a
window lights the side of the template's face, the pasted face takes that light at its
edge instead of cutting it off with a darker line (server.vision.seam)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from server.engines.classic import ClassicOptions
from server.types import Frame
from tests.engines.test_classic_look import landmarks, placed, still_template, swapped
from tests.render.samples import dlib_models, t1_face


def side_lit(image: Frame) -> Frame:
    """The image-left side of the face brightened, most at its edge and fading out
    towards the outer corner of the eye."""
    lm = dlib_models().detect(image, use_cnn=False)[0].landmarks
    x0 = float(lm[0, 0])
    x1 = x0 + 0.8 * (float(lm[36, 0]) - x0)
    ramp = np.clip((x1 - np.arange(image.shape[1])) / max(x1 - x0, 1.0), 0, 1)
    lit = image.astype(np.float32) * (1.0 + 0.45 * ramp)[None, :, None]
    return np.clip(lit, 0, 255).astype(np.uint8)


def lit_edge(lm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Within a quarter of the inter-ocular distance inside the face's outline (jaw and
    brows), on the lit side of the eye's outer corner."""
    iod = float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))
    hull = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(lm[:27]).astype(np.int32)), 1)
    depth = cv2.distanceTransform(hull, cv2.DIST_L2, 3)
    side = np.arange(shape[1])[None, :] < lm[36, 0]
    return (depth > 0) & (depth <= 0.25 * iod) & side


@pytest.mark.parametrize(("face", "selfie"), [("jennifer", "david"), ("david", "jennifer")])
def test_the_face_meets_a_side_lit_template_at_its_edge(
    tmp_path: Path, face: str, selfie: str
) -> None:
    template = still_template(side_lit(placed(t1_face(face))), tmp_path, face)
    frames = template.animation().frames
    matched = swapped(template, t1_face(selfie), ClassicOptions())
    unmatched = swapped(template, t1_face(selfie), ClassicOptions(match_seams=False))

    def off(out: list[Frame]) -> float:
        """How far the output's mean colour at the lit edge is from the template's."""
        gaps = []
        for i in range(0, len(frames), 3):
            edge = lit_edge(landmarks(template, i), frames[i].shape[:2])
            diff = out[i][edge].astype(np.float32) - frames[i][edge]
            gaps.append(np.abs(diff.mean(axis=0)).mean())
        return float(np.mean(gaps))

    assert off(matched) < 0.75 * off(unmatched)
