"""Reading where an eye looks (server.vision.gaze), and moving a face's iris
(server.vision.eyeball), on drawn eyes whose iris place is known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from server.vision import color, eyeball, gaze

SKIN = (120, 150, 200)  # BGR


def _eye_points(cx: float, cy: float, width: float) -> np.ndarray:
    """dlib's six points of an almond eye: corner, two upper, corner, two lower."""
    w, h = width / 2, 0.3 * width
    return np.array(
        [(cx - w, cy), (cx - w / 3, cy - h), (cx + w / 3, cy - h), (cx + w, cy),
         (cx + w / 3, cy + h), (cx - w / 3, cy + h)],
        np.float64,
    )  # fmt: skip


def _face(across: tuple[float, float], width: float = 40.0) -> tuple[np.ndarray, np.ndarray]:
    """A skin-coloured picture with two eyes (white, a dark-brown iris at ``across``
    of each eye's width) and the 68 points' eye entries filled in."""
    image = np.zeros((120, 200, 3), np.uint8)
    image[:] = SKIN
    points = np.zeros((68, 2))
    for k, (cx, u) in enumerate(zip((60.0, 140.0), across, strict=True)):
        eye = _eye_points(cx, 60.0, width)
        opening = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(opening, [np.round(eye).astype(np.int32)], 1)
        layer = image.copy()
        layer[opening > 0] = (235, 235, 240)
        centre = (round(eye[0, 0] + u * width), 60)
        cv2.circle(layer, centre, round(0.21 * width), (40, 60, 90), -1)
        cv2.circle(layer, centre, round(0.08 * width), (10, 10, 10), -1)
        image[opening > 0] = layer[opening > 0]
        points[36 + 6 * k : 42 + 6 * k] = eye
    return image, points


def _light(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)


@pytest.mark.parametrize("u", [0.3, 0.5, 0.7])
def test_the_iris_is_read_where_it_is_drawn(u: float) -> None:
    image, points = _face((u, u))
    read = gaze.read_iris(_light(image), points[36:42])
    assert read.across == pytest.approx(u, abs=0.05)
    assert read.radius == pytest.approx(0.21, abs=0.05)
    assert read.contrast >= gaze.READABLE


def test_skin_between_the_points_reads_unclear() -> None:
    """Where dlib's eye points sit on skin (squeezed lids, a misplaced track), no iris
    is read: the track holds its last clear read instead."""
    image = np.zeros((120, 200, 3), np.uint8)
    image[:] = SKIN
    read = gaze.read_iris(_light(image), _eye_points(60.0, 60.0, 40.0))
    assert read.contrast < gaze.READABLE


def test_a_track_reads_gaze_and_holds_it_through_shut_frames() -> None:
    places = [0.5, 0.5, 0.3, 0.3, 0.3, 0.3, 0.7, 0.7, 0.7, 0.7]
    frames, marks = zip(*(_face((u, u)) for u in places), strict=True)
    landmarks = np.stack(marks).astype(np.float32)
    openness = np.ones((len(places), 2))
    openness[4] = 0.1  # a blink: not read, held from its neighbours
    every = list(range(len(places)))
    read = gaze.track_gaze(gaze.frame_reads(list(frames), landmarks, every), every, openness)
    assert read is not None
    assert read[4, 0] == pytest.approx(0.3, abs=0.06)
    assert read[8, 0] == pytest.approx(0.7, abs=0.06) and read[0, 1] == pytest.approx(0.5, abs=0.06)
    skin = np.zeros_like(frames[0])
    skin[:] = SKIN
    unread = gaze.frame_reads([skin] * 3, landmarks[:3], [0, 1, 2])
    assert np.isnan(unread).all()
    assert gaze.track_gaze(unread, [0, 1, 2], openness[:3]) is None


@pytest.mark.parametrize("wanted", [0.3, 0.7])
def test_the_iris_moves_and_leaves_white_behind(wanted: float) -> None:
    image, points = _face((0.5, 0.5))
    lab = color.to_lab(image)
    split = eyeball.Eyeball(lab, points)
    assert split.across == pytest.approx([0.5, 0.5], abs=0.05)
    shift = split.shifts(np.array([[wanted, wanted]]))[0]
    h, w = lab.shape[:2]
    ty, tx = np.mgrid[:h, :w].astype(np.float32)
    moved = lab.copy()
    eyeball.look(moved, split.image, shift, tx, ty, [points[36:42], points[42:48]])
    out = np.clip(color.lab_to_bgr(moved) + 0.5, 0, 255).astype(np.uint8)
    for eye, cx in ((points[36:42], 60), (points[42:48], 140)):
        assert gaze.read_iris(_light(out), eye).across == pytest.approx(wanted, abs=0.06)
        assert _light(out)[60, cx] > 180  # the old place is white now
        assert _light(image)[60, cx] < 60


def test_lid_skin_is_not_taken_for_an_eye_white() -> None:
    """A narrow or painted eye whose 'white' is as pink as the skin under it: its iris
    stays where it is (one eye alone moved would look the other way)."""
    image, points = _face((0.5, 0.5))
    opening = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(opening, [np.round(points[36:42]).astype(np.int32)], 1)
    white = (opening > 0) & (image[:, :, 0] > 200)
    image[white] = (130, 160, 215)
    split = eyeball.Eyeball(color.to_lab(image), points)
    assert np.isnan(split.across).all()
    assert not split.shifts(np.array([[0.3, 0.3]])).any()


def test_a_wobble_under_a_real_move_is_held_still() -> None:
    """A read's noise (here irises drawn a pixel apart, frame to frame) would tremble
    the moved iris; eyes move in jumps, so the track holds still until one."""
    places = [0.5, 0.53, 0.5, 0.53, 0.5, 0.53, 0.8, 0.8, 0.8]
    frames, marks = zip(*(_face((u, u)) for u in places), strict=True)
    openness = np.ones((len(places), 2))
    every = list(range(len(places)))
    reads = gaze.frame_reads(list(frames), np.stack(marks).astype(np.float32), every)
    read = gaze.track_gaze(reads, every, openness)
    assert read is not None
    assert np.ptp(read[:6], axis=0).max() == 0.0
    assert read[-1, 0] == pytest.approx(0.78, abs=0.06)
