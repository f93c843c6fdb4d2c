"""tools.quality's background region: every face is left out, and a frame where the
detector misses the face borrows its neighbour's region instead of counting the face
as background."""

from __future__ import annotations

from typing import Any

import numpy as np

from server.types import Box, DetectedFace
from tools.quality import BORROW_FRAMES, _bg_psnr, template_faces


def _face(cx: float, cy: float, r: float) -> DetectedFace:
    angles = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    pts = np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], 1).astype(np.float32)
    box = Box(int(cx - r), int(cy - r), int(cx + r), int(cy + r))
    return DetectedFace(box, pts, 1.0, "hog")


class _Detector:
    """Stands in for dlib: answers a fixed list of faces per frame, in call order."""

    def __init__(self, per_frame: list[list[DetectedFace]]) -> None:
        self.per_frame = list(per_frame)

    def detect(self, frame: Any, **_: Any) -> list[DetectedFace]:
        return self.per_frame.pop(0)


def test_every_face_is_left_out_of_the_background() -> None:
    frames = [np.zeros((120, 200, 3), np.uint8)]
    faces = template_faces(_Detector([[_face(50, 60, 20), _face(150, 60, 15)]]), frames)  # type: ignore[arg-type]
    region = faces[0].region
    assert region is not None
    assert region[60, 50] and region[60, 150] and not region[60, 100]
    assert faces[0].face is not None and faces[0].face.box.left == 30  # the largest


def test_a_missed_frame_borrows_the_nearest_region_and_a_far_one_does_not() -> None:
    n = BORROW_FRAMES + 4
    frames = [np.zeros((120, 120, 3), np.uint8) for _ in range(n)]
    per_frame = [[_face(60, 60, 20)]] + [[] for _ in range(n - 1)]
    faces = template_faces(_Detector(per_frame), frames)  # type: ignore[arg-type]
    assert faces[1].face is None and faces[1].region is not None
    assert faces[BORROW_FRAMES].region is not None
    assert faces[BORROW_FRAMES + 1].region is None

    # A changed face in the missed frame is not background; a change far from any
    # face still is.
    output = [f.copy() for f in frames]
    output[1][55:65, 55:65] = 255
    assert _bg_psnr(frames, output, faces) == 99.0
    output[1][0:5, 0:5] = 255
    assert _bg_psnr(frames, output, faces) < 40.0
