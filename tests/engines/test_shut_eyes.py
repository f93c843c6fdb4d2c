"""A selfie whose eyes cannot serve, shut or blurred away: its closed lids would stay
closed on every frame of a clip whose eyes are open, so the classic engine keeps the
template's eyes, lids and all."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from server.engines.classic import ClassicEngine, ClassicOptions
from server.faces.identity import aligned_texture, build_identity
from server.vision import eye_state, shape
from tests.engines.test_classic_look import placed, still_template, swapped
from tests.render.samples import astronaut, dlib_models, t1_face
from tools.selfie_variants import eyes_closed


def test_shut_selfie_eyes_open_with_the_template(tmp_path: Path) -> None:
    template = still_template(placed(astronaut()), tmp_path, "open_eyes")
    face = t1_face("david")
    shut = eyes_closed(face, dlib_models().detect(face, use_cnn=False)[0].landmarks)
    assert ClassicEngine().prepare_identity(build_identity([shut], dlib_models())).template_eyes
    assert not ClassicEngine().prepare_identity(build_identity([face], dlib_models())).template_eyes
    out = swapped(template, shut, ClassicOptions())
    seen = []
    for frame in out:  # read by dlib on the output, not the engine's own points
        found = dlib_models().detect(frame, use_cnn=False)[0]
        texture, lm = aligned_texture(frame, found.landmarks)
        seen.append(float(np.mean(eye_state.edge_ratio(texture, lm))))
    print("output eyes' edge ratio per frame", np.round(seen, 2))
    assert min(seen) > 2 * eye_state.SHUT


def test_a_blurry_selfie_keeps_the_template_eyes_too() -> None:
    """Blurred away, a selfie's eyes become smears of colour over the template's lids:
    the template's eyes serve better (the selfie was found blurry at upload)."""
    face = t1_face("david")
    iod = float(
        np.linalg.norm(np.subtract(*shape.eye_centres(dlib_models().detect(face)[0].landmarks)))
    )
    soft = np.ascontiguousarray(cv2.GaussianBlur(face, (0, 0), 0.06 * iod), np.uint8)
    identity = build_identity([soft], dlib_models())
    assert "blurry" in {str(w["code"]) for w in identity.selfies[0].warnings}
    assert ClassicEngine().prepare_identity(identity).template_eyes
